"""Mine M from label maps on disk: size bounds from training masks, then one streaming pass over the pool."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from time import perf_counter

import numpy as np

from segmad.errors import InputError, not_a_folder
from segmad.mad import CandidateHeaps, SizeBounds, size_bounds
from segmad.offline.layout import PredictionFolders
from segmad.offline.maps import list_pngs
from segmad.offline.progress import bar as _bar
from segmad.offline.scan import mask_fractions, ordered_map, score_image, worker_pool


@dataclass(frozen=True)
class MiningStats:
    """How much was read and where the time went (decode/score summed over worker processes)."""

    images: int
    competitors: int
    training_masks: int
    bounds_seconds: float
    decode_seconds: float
    score_seconds: float
    wall_seconds: float


def training_bounds(
    train_dir: Path, num_classes: int, pool: Executor | None = None, progress: bool | None = None
) -> tuple[SizeBounds, int]:
    """Size bounds from the class fractions of every training mask in a folder, and how many masks."""
    if not train_dir.is_dir():
        raise InputError(f"{not_a_folder(train_dir)} for --train-masks", train_dir)
    names = list_pngs(train_dir)
    if not names:
        raise InputError("no training masks (*.png) in this folder", train_dir)
    paths = [train_dir / names[i] for i in sorted(names)]
    rows = []
    with _bar(len(paths), "training masks", progress) as bar:
        for fractions in ordered_map(partial(mask_fractions, num_classes=num_classes), paths, pool):
            rows.append(fractions)
            bar.update()
    return size_bounds(np.stack(rows), num_classes), len(paths)


def mine(
    folders: PredictionFolders,
    train_dir: Path,
    num_classes: int,
    n3: int,
    workers: int = 1,
    progress: bool | None = None,
) -> tuple[CandidateHeaps, MiningStats]:
    """The heaps of every (competitor, class, partition) over the pool, and how the run went."""
    started = perf_counter()
    with worker_pool(workers) as pool:
        bounds, masks = training_bounds(train_dir, num_classes, pool, progress)
        bounded = perf_counter()
        heaps, decode, score, images = _scan_pool(folders, num_classes, n3, bounds, pool, progress)
    stats = MiningStats(
        images, len(folders.competitors), masks, bounded - started, decode, score, perf_counter() - started
    )
    return heaps, stats


def _scan_pool(
    folders: PredictionFolders,
    num_classes: int,
    n3: int,
    bounds: SizeBounds,
    pool: Executor | None,
    progress: bool | None,
) -> tuple[CandidateHeaps, float, float, int]:
    """Heaps over the pool, seconds decoding and scoring (summed over workers), images scanned."""
    heaps = CandidateHeaps(n3, bounds)
    decode = score = 0.0
    images = 0
    with _bar(len(folders.files[folders.target]), "select", progress) as bar:
        for result in ordered_map(score_image, folders.tasks(num_classes), pool):
            heaps.push_image(
                result.image_id, result.target_fractions, [(c.competitor, c.distance, c.fractions) for c in result.competitors]
            )
            decode += result.decode_seconds
            score += result.score_seconds
            images += 1
            bar.update()
    return heaps, decode, score, images
