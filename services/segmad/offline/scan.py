"""Per-image work of `segmad select`, run in worker processes: decode, check, score one image.

One task holds one image's maps for all models, so a worker decodes them together and sends back
only the small results (fractions and distances); the parent never holds a label map.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

from segmad.errors import InputError
from segmad.mad.distance import discrepancy_and_counts
from segmad.offline.maps import check_labels, checked_counts, read_label_map

IN_FLIGHT_PER_HELPER = 4  # tasks queued per helper process: enough to hide the round trip, a short tail
MAX_BUFFERED = 256  # results held back until the ones before them are in

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ImageTask:
    """One pool image: the target's map and each competitor's map of it."""

    image_id: str
    target_path: Path
    competitor_paths: tuple[tuple[str, Path], ...]  # (competitor, path), competitors sorted
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


def score_image(task: ImageTask) -> ImageScore:
    """Decode and check one image's maps, then its class fractions and distance to each competitor."""
    started = perf_counter()
    tables = {name: np.frombuffer(table, np.uint8) for name, table in task.tables}

    def read(name: str, path: Path) -> np.ndarray:
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
    target_counts = checked_counts(target, task.num_classes, task.target_path)
    scores = []
    for name, path, label_map in competitors:
        # a competitor's map mostly agrees with the target's: counting only where they differ is cheaper
        distance, counts = discrepancy_and_counts(target, label_map, target_counts)
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
    with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def ordered_map(fn: Callable[[T], R], items: Iterable[T], pool: Executor | None) -> Iterator[R]:
    """fn over items, results in order; the calling process takes items too whenever it would wait.

    The caller computes the next item itself when the oldest result is not back yet, so the
    helpers' start-up (a second or so of imports) overlaps with real work, and the caller is a
    worker rather than a waiter. A few tasks in flight per helper keep the helpers busy without a
    long tail of queued work at the end; at most MAX_BUFFERED results wait for their turn.
    """
    if pool is None:
        yield from map(fn, items)
        return
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
