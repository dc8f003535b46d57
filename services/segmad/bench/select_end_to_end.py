"""End-to-end `segmad select` on a generated pool of blocky PNG label maps."""

from __future__ import annotations

import json
import os
import tempfile
from functools import partial
from pathlib import Path
from time import perf_counter

import numpy as np

from segmad.bench.synthetic import blocky_map, disagreeing_map, write_map
from segmad.offline.layout import discover
from segmad.offline.mining import mine
from segmad.offline.scan import ordered_map, worker_pool

STRONG_SHARE = 0.15  # of competitor maps that disagree strongly with the truth (the failures to find)


def write_pool_image(index: int, root: Path, size: int, labels: int, models: int, seed: int) -> None:
    """One pool image: a truth map, and each model's map of it with its own errors, as PNGs."""
    rng = np.random.default_rng([seed, index])
    truth = blocky_map(rng, size, labels)
    for m in range(models):
        strong = m > 0 and rng.random() < STRONG_SHARE
        low, high = (0.20, 0.50) if strong else (0.005, 0.025)
        write_map(root / "pred" / _model_name(m) / f"{index:07d}.png", disagreeing_map(rng, truth, low, high, labels))


def write_training_mask(index: int, root: Path, size: int, labels: int, seed: int) -> None:
    """One training mask."""
    rng = np.random.default_rng([seed, 1_000_000 + index])  # streams apart from the pool images
    write_map(root / "train" / f"{index:07d}.png", blocky_map(rng, size, labels))


def _model_name(m: int) -> str:
    return "target" if m == 0 else f"competitor{m}"


def generate_pool(
    root: Path, images: int, size: int, labels: int, models: int, masks: int, seed: int, workers: int
) -> None:
    """Write DIR/pred/<model>/<id>.png and DIR/train/<id>.png; the same files for any `workers`."""
    for m in range(models):
        (root / "pred" / _model_name(m)).mkdir(parents=True)
    (root / "train").mkdir()
    write_image = partial(write_pool_image, root=root, size=size, labels=labels, models=models, seed=seed)
    write_mask = partial(write_training_mask, root=root, size=size, labels=labels, seed=seed)
    with worker_pool(workers) as pool:
        for _ in ordered_map(write_image, range(images), pool):
            pass
        for _ in ordered_map(write_mask, range(masks), pool):
            pass


def measure_end_to_end(
    images: int, size: int, labels: int, models: int, masks: int, n3: int, workers: list[int], seed: int
) -> dict:
    """Generate a pool in a temp dir (timed apart), then time `segmad select`'s work for each workers value."""
    with tempfile.TemporaryDirectory(prefix="segmad-bench-select-") as temp:
        root = Path(temp)
        started = perf_counter()
        generate_pool(root, images, size, labels, models, masks, seed, workers=max(workers + [1]))
        generated = perf_counter() - started
        runs, candidate_sets = [], []
        for k in workers:
            started = perf_counter()
            folders = discover(root / "pred", "target")
            heaps, stats = mine(folders, root / "train", labels - 1, n3, workers=k, progress=False)
            output = json.dumps({"images": heaps.candidates(), "heaps": heaps.to_records()}, indent=2)
            (root / f"out-{k}.json").write_text(output)
            wall = perf_counter() - started
            candidate_sets.append(heaps.candidates())
            runs.append({
                "workers": k,
                "wall_seconds": wall,
                "images_per_second": stats.images / wall,
                "decode_seconds": stats.decode_seconds,
                "score_seconds": stats.score_seconds,
                "other_seconds": wall - (stats.decode_seconds + stats.score_seconds) / k,
                "decode_share": stats.decode_seconds / max(stats.decode_seconds + stats.score_seconds, 1e-12),
                "candidates": len(candidate_sets[-1]),
                "heaps": len(heaps.to_records()),
            })
    for run in runs:  # ratios within one run: the machine may be shared and noisy
        run["speedup_over_first"] = runs[0]["wall_seconds"] / run["wall_seconds"]
    return {
        "images": images,
        "models": models,
        "training_masks": masks,
        "generate_seconds": generated,
        "generate_workers": max(workers + [1]),
        "cpu_count": os.cpu_count(),
        "same_candidates": all(c == candidate_sets[0] for c in candidate_sets),
        "runs": runs,
    }
