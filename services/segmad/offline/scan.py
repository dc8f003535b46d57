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
from segmad.mad import discrepancy
from segmad.offline.maps import checked_counts, read_label_map

IN_FLIGHT = 64  # tasks submitted ahead: keeps up to ~64 workers busy, holds only 64 small results

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ImageTask:
    """One pool image: the target's map and each competitor's map of it."""

    image_id: str
    target_path: Path
    competitor_paths: tuple[tuple[str, Path], ...]  # (competitor, path), competitors sorted
    num_classes: int


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
    target = read_label_map(task.target_path)
    competitors = [(name, path, read_label_map(path)) for name, path in task.competitor_paths]
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
        counts = checked_counts(label_map, task.num_classes, path)
        scores.append(
            CompetitorScore(
                name,
                discrepancy(target, label_map, target_counts, counts),
                _fractions(counts, task.num_classes, label_map.size),
            )
        )
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
    """K worker processes for `ordered_map`, or None (work in this process) when K is 1."""
    if workers <= 1:
        yield None
        return
    # spawn, not fork: forking a process that may hold threads (tqdm's monitor, BLAS) can deadlock
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def ordered_map(fn: Callable[[T], R], items: Iterable[T], pool: Executor | None) -> Iterator[R]:
    """fn over items, results in order; a small window of tasks in flight keeps memory bounded."""
    if pool is None:
        yield from map(fn, items)
        return
    pending: deque[Future] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= IN_FLIGHT:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:  # after an error, do not decode the rest of the window
            future.cancel()
