"""Per-image work of `segmad select`, run in worker processes: decode, check, score one image.

One task holds one image's maps for all models, so a worker decodes them together and sends back
only the small results (fractions and distances); the parent never holds a label map.
"""

from __future__ import annotations

import ctypes
import multiprocessing
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from time import perf_counter
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

from segmad.errors import InputError
from segmad.mad.distance import discrepancy_and_counts
from segmad.mad.distance import label_counts
from segmad.offline.maps import BEYOND, check_labels, checked_counts, read_label_map

CHUNK = 16  # items per task a helper gets: one round trip (pickles, queues, futures) per 16 images, not per image
IN_FLIGHT_PER_HELPER = 2  # tasks queued per helper process: enough to hide the round trip, a short tail
MAX_BUFFERED = 64  # tasks whose results are held back until the ones before them are in

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ImageTask:
    """One pool image: the target's map and each competitor's map of it."""

    image_id: str
    # Paths as strings: building and pickling seven Path objects per image cost the parent 50 ms and
    # the helpers 60 ms per 2,000 images (bench select), work that --workers cannot share out.
    target_path: str
    competitor_paths: tuple[tuple[str, str], ...]  # (competitor, path), competitors sorted
    num_classes: int
    # (model, 256-byte lookup table): maps of a model with its own label set, mapped onto the run's
    # label space as they are read (segmad.cards.labels); models not named are in the run's space
    tables: tuple[tuple[str, bytes], ...] = ()
    target: str = "target"


@dataclass(frozen=True)
class CompetitorScore:
    competitor: str
    distance: float  # d(f_t(x), g_j(x))
    fractions: np.ndarray  # (C+1,) class fractions of g_j(x)


@dataclass(frozen=True)
class ImageScore:
    """What the parent needs of one image to fill the heaps, plus where the time went."""

    image_id: str
    target_fractions: np.ndarray  # (C+1,)
    competitors: tuple[CompetitorScore, ...]
    decode_seconds: float
    score_seconds: float


def _fractions(counts: np.ndarray, num_classes: int, pixels: int) -> np.ndarray:
    # same arithmetic as mad.class_fractions, reusing counts the distance needs anyway
    return counts[: num_classes + 1] / float(pixels)


def _check_mapped(counts: np.ndarray, name: str, path: str, tables: dict, num_classes: int) -> None:
    """InputError when a mapped model's map holds an id beyond the classes its --label-map entry lists."""
    if name not in tables or num_classes >= BEYOND or not counts[BEYOND]:
        return
    listed = int(np.argmax(tables[name] == BEYOND))
    raw = read_label_map(path)  # only on the way to the error: which id it was
    found = int(raw[(raw >= listed) & (raw != 255)].min())
    raise InputError(f"class id {found} is beyond the {listed} classes --label-map lists for {name!r} "
                     "and is not 255 (ignore)", path)


def score_image(task: ImageTask) -> ImageScore:
    """Decode and check one image's maps, then its class fractions and distance to each competitor."""
    started = perf_counter()
    tables = {name: np.frombuffer(table, np.uint8) for name, table in task.tables}

    def read(name: str, path: str) -> np.ndarray:
        label_map = read_label_map(path)
        return tables[name][label_map] if name in tables else label_map

    target = read(task.target, task.target_path)
    competitors = [(name, path, read(name, path)) for name, path in task.competitor_paths]
    decoded = perf_counter()
    for _, path, label_map in competitors:
        if label_map.shape != target.shape:
            raise InputError(
                f"map size {label_map.shape[1]}x{label_map.shape[0]} differs from the target's "
                f"{target.shape[1]}x{target.shape[0]} ({task.target_path})",
                path,
            )
    target_counts = label_counts(target)
    _check_mapped(target_counts, task.target, task.target_path, tables, task.num_classes)
    check_labels(target_counts, task.num_classes, task.target_path)
    scores = []
    for name, path, label_map in competitors:
        # a competitor's map mostly agrees with the target's: counting only where they differ is cheaper
        distance, counts = discrepancy_and_counts(target, label_map, target_counts)
        _check_mapped(counts, name, path, tables, task.num_classes)
        check_labels(counts, task.num_classes, path)
        scores.append(CompetitorScore(name, distance, _fractions(counts, task.num_classes, label_map.size)))
    return ImageScore(
        task.image_id,
        _fractions(target_counts, task.num_classes, target.size),
        tuple(scores),
        decoded - started,
        perf_counter() - decoded,
    )


def mask_fractions(path: Path, num_classes: int) -> np.ndarray:
    """Class fractions (C+1,) of one training mask, after checking its labels."""
    mask = read_label_map(path)
    return _fractions(checked_counts(mask, num_classes, path), num_classes, mask.size)


@contextmanager
def worker_pool(workers: int) -> Iterator[Executor | None]:
    """K−1 helper processes for `ordered_map`, whose caller is the K-th worker; None when K is 1."""
    if workers <= 1:
        yield None
        return
    # spawn, not fork: forking a process that may hold threads (tqdm's monitor, BLAS) can deadlock
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers - 1, mp_context=context, initializer=keep_freed_memory) as pool:
        yield pool


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
HELD_HEAP_BYTES = 256 << 20  # a helper keeps up to this much freed heap for its next image
HEAP_ALLOCATION_BYTES = 32 << 20  # blocks up to this size come from the heap, not from fresh mmaps


def keep_freed_memory() -> None:
    """Let this process reuse the memory of one image's arrays for the next (glibc; elsewhere nothing).

    A fresh helper process, freeing every array after each image, handed the top of its heap back
    to the kernel and took it again for the next: 110–150 thousand page faults and 0.35–0.4 s of
    system time per 1,000 images of 513 px (6 maps each), where the long-lived parent, whose heap
    top stays in use, had a few hundred. Fixing both thresholds (which also stops glibc's own
    adjustment of them) ends that: about 6 faults per image.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, Windows): nothing to tune
        return
    mallopt(M_TRIM_THRESHOLD, HELD_HEAP_BYTES)
    mallopt(M_MMAP_THRESHOLD, HEAP_ALLOCATION_BYTES)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], pool: Executor | None, chunk: int = CHUNK) -> Iterator[R]:
    """fn over items, results in order; the calling process takes items too whenever it would wait.

    Items travel in tasks of `chunk`: with one round trip per image, the futures, pickling and
    queue threads cost the parent as much CPU as a fifth of the work it shares out (`segmad bench
    select`, 513 px maps, 6 models). The caller computes the next task itself when the oldest
    result is not back yet, so the helpers' start-up (imports) overlaps with real work, and the
    caller is a worker rather than a waiter. A few tasks in flight per helper keep the helpers busy
    without a long tail of queued work at the end; at most MAX_BUFFERED tasks' results wait for
    their turn. An error comes out in its item's turn, after the results of the items before it.
    """
    if pool is None:
        yield from map(fn, items)
        return
    for results in _ordered_tasks(partial(_run_chunk, fn), _chunks(items, max(1, chunk)), pool):
        yield from results


class _ChunkFailed(Exception):
    """An item of a task failed: the results of the items before it, and its error."""

    def __init__(self, done: list, error: Exception):
        super().__init__(done, error)
        self.done, self.error = done, error


def _run_chunk(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    """fn over one task's items, in a helper or in the caller."""
    done = []
    for item in chunk:
        try:
            done.append(fn(item))
        except Exception as error:  # noqa: BLE001 - raised again in its turn by ordered_map
            raise _ChunkFailed(done, error) from None
    return done


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _ordered_tasks(fn: Callable[[T], list[R]], items: Iterable[T], pool: Executor) -> Iterator[list[R]]:
    """fn over tasks, results in order, the caller computing tasks whenever it would wait."""
    try:
        yield from _ordered_futures(fn, items, pool)
    except _ChunkFailed as failed:
        yield failed.done
        raise failed.error from None


def _ordered_futures(fn: Callable[[T], R], items: Iterable[T], pool: Executor) -> Iterator[R]:
    in_flight = IN_FLIGHT_PER_HELPER * _helpers(pool)
    slots: deque[Future] = deque()  # every item taken, in order: helpers' futures and the caller's own
    helping: deque[Future] = deque()  # the helpers' futures, oldest first
    remaining = iter(items)
    exhausted = False
    try:
        while True:
            while helping and helping[0].done():
                helping.popleft()
            while not exhausted and len(helping) < in_flight and len(slots) < MAX_BUFFERED:
                item = next(remaining, _END)
                if item is _END:
                    exhausted = True
                else:
                    slots.append(pool.submit(fn, item))
                    helping.append(slots[-1])
            if not slots:
                return
            if not slots[0].done() and not exhausted and len(slots) < MAX_BUFFERED:
                item = next(remaining, _END)
                if item is _END:
                    exhausted = True
                else:
                    slots.append(_computed_here(fn, item))
                    exhausted = slots[-1].exception() is not None  # an error: take nothing more
                continue
            yield slots.popleft().result()  # waits only when there is nothing left to take on
    finally:
        for future in slots:  # after an error, do not decode the rest of the window
            future.cancel()


_END = object()


def _helpers(pool: Executor) -> int:
    return getattr(pool, "_max_workers", 1)  # ProcessPoolExecutor's size; 1 for another executor


def _computed_here(fn: Callable[[T], R], item: T) -> Future:
    """fn(item) run in this process, as a finished future, so its result or error comes in its turn."""
    future: Future = Future()
    try:
        future.set_result(fn(item))
    except Exception as error:  # noqa: BLE001 - raised again by .result(), in item order
        future.set_exception(error)
    return future
