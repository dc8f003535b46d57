"""End-to-end `segmad select` on a generated pool of blocky PNG label maps."""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import tempfile
from functools import partial
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from time import perf_counter

import numpy as np

from segmad.bench.synthetic import blocky_map, disagreeing_map, write_map
from segmad.offline.layout import discover
from segmad.offline.mining import MiningStats, mine
from segmad.offline.scan import ordered_map, worker_pool

START_TIMEOUT_S = 120  # for the independent runs to meet at their start (imports, on a busy machine)
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


def select_once(root: Path, labels: int, n3: int, workers: int) -> tuple[float, list[str], MiningStats, int]:
    """`segmad select`'s work on a generated pool: wall seconds, M, the mining stats, heaps written."""
    started = perf_counter()
    folders = discover(root / "pred", "target")
    heaps, stats = mine(folders, root / "train", labels - 1, n3, workers=workers, progress=False)
    records = heaps.to_records()
    output = json.dumps({"images": heaps.candidates(), "heaps": records}, indent=2)
    (root / f"out-{os.getpid()}-{workers}.json").write_text(output)
    return perf_counter() - started, heaps.candidates(), stats, len(records)


def _independent_run(root: Path, labels: int, n3: int, start: Barrier, results: Queue) -> None:
    """One workers-1 run in its own process, started with the others (imports done before)."""
    start.wait(timeout=START_TIMEOUT_S)
    began = perf_counter()  # CLOCK_MONOTONIC: comparable between processes
    select_once(root, labels, n3, 1)
    results.put((began, perf_counter()))


def independent_runs(root: Path, labels: int, n3: int, processes: int) -> float:
    """Wall seconds of `processes` independent workers-1 runs started at once, until the last ends.

    What the machine's cores give this work when nothing is shared: the ceiling of `--workers K`
    (two such runs on one shared-cache 2-core machine took 10–25% more CPU each than one alone).
    """
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(processes), context.Queue()
    runs = [context.Process(target=_independent_run, args=(root, labels, n3, start, results)) for _ in range(processes)]
    for run in runs:
        run.start()
    spans: list[tuple[float, float]] = []
    try:
        while len(spans) < processes:
            try:
                spans.append(results.get(timeout=1.0))
            except queue.Empty:
                if failed := [run.exitcode for run in runs if run.exitcode not in (None, 0)]:
                    raise RuntimeError(f"an independent select run failed (exit code {failed[0]})") from None
    finally:
        for run in runs:  # after a failure the others may wait at the barrier: stop them
            if len(spans) < processes:
                run.terminate()
            run.join()
    return max(end for _, end in spans) - min(began for began, _ in spans)


def measure_end_to_end(
    images: int, size: int, labels: int, models: int, masks: int, n3: int, workers: list[int], seed: int
) -> dict:
    """Generate a pool in a temp dir (timed apart), then time `segmad select`'s work for each workers value.

    With workers 1 and some K > 1 among them, K independent workers-1 runs at once are timed too.
    """
    independent = None
    with tempfile.TemporaryDirectory(prefix="segmad-bench-select-") as temp:
        root = Path(temp)
        started = perf_counter()
        generate_pool(root, images, size, labels, models, masks, seed, workers=max(workers + [1]))
        generated = perf_counter() - started
        runs, candidate_sets = [], []
        for k in workers:
            wall, candidates, stats, heap_count = select_once(root, labels, n3, k)
            candidate_sets.append(candidates)
            runs.append({
                "workers": k,
                "wall_seconds": wall,
                "images_per_second": stats.images / wall,
                "decode_seconds": stats.decode_seconds,
                "score_seconds": stats.score_seconds,
                "other_seconds": wall - (stats.decode_seconds + stats.score_seconds) / k,
                "decode_share": stats.decode_seconds / max(stats.decode_seconds + stats.score_seconds, 1e-12),
                "candidates": len(candidates),
                "heaps": heap_count,
            })
        alone = [r["wall_seconds"] for r in runs if r["workers"] == 1]
        if alone and max(workers) > 1:
            processes = max(workers)
            wall = independent_runs(root, labels, n3, processes)
            independent = {
                "processes": processes,
                "wall_seconds": wall,
                "speedup": processes * float(np.mean(alone)) / wall,  # their throughput over one run's
            }
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
        "independent_runs": independent,
    }
