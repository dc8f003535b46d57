"""Play the grid: predictions once per world seed, selections in this process, fine-tunes in parallel.

Resumable: every finished cell is appended to results.jsonl as soon as it is measured, and a
rerun skips the cells already there (a cell's key names everything that decides it), so an
interrupted study continues where it stopped. The shared predictions are kept in shared/ for the
same reason.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import numpy as np

from segmad.simulation.zoo import ensure_zoo
from segmad.study import shared as shared_file
from segmad.study.finetuning import Task, run_task, use_one_thread
from segmad.study.grid import BUDGETED, CEILINGS, SELECTORS, Cell, StudyConfig, cells
from segmad.study.selectors import SELECT, Context, Selection, precision_at_k
from segmad.world import stack
from segmad.zoo import checkpoint_path
from segmad.zoo.store import read_meta


def run_study(config: StudyConfig, zoo_dir: Path, out_dir: Path, workers: int, progress: bool = True,
              say: Callable[[str], None] = print, report_only: bool = False) -> dict:
    """Run every missing cell of the grid and return the study document (see `report.summarize`).

    `report_only`: fine-tune nothing; the document of the cells measured so far (a study still running).
    """
    from segmad.study.report import summarize

    started, out = time.perf_counter(), Path(out_dir)
    zoo, train_world = ensure_zoo(zoo_dir, progress=progress)
    train_world = dataclasses.replace(train_world, s0_size=config.s0_size or train_world.s0_size,
                                      t0_size=config.t0_size or train_world.t0_size)
    s0, t0 = stack(train_world, "s0", range(train_world.s0_size)), stack(train_world, "t0", range(train_world.t0_size))
    train_sets = out / "shared" / f"train-sets-s0{len(s0[0])}-t0{len(t0[0])}.npz"
    if not train_sets.exists():
        train_sets.parent.mkdir(parents=True, exist_ok=True)
        np.savez(train_sets, s0_images=s0[0], s0_masks=s0[1], t0_images=t0[0], t0_masks=t0[1])
    results = Results(out / "results.jsonl")
    grid, precision, todo, failures, on_w = cells(config), {}, [], {}, {}
    for seed in config.seeds:
        ctx, path = _context(config, zoo, train_world, s0[1], t0, out, seed, say)
        on_w[seed] = shared_file.scores_on_w(path, zoo)
        precision[seed] = curves(ctx)
        failures[seed] = ctx.shared.failures(config.failure_threshold)
        for cell in (c for c in grid if c.seed == seed and c.key(config) not in results.keys):
            todo.append((cell, SELECT[cell.selector](ctx, cell.budget), ctx, path))
    todo.sort(key=lambda item: priority(item[0], config))
    timings = {"predictions_and_selections": time.perf_counter() - started}
    say(f"{len(grid) - len(todo)} of {len(grid)} cells already measured; {len(todo)} to fine-tune on {workers} worker(s)")
    if report_only:
        todo = []
    tasks = {}
    for cell, selection, ctx, path in todo:
        row = describe(cell, selection, ctx)
        if not selection.chosen:  # nothing to label: the target stays v0
            results.append(row | {"wild": row["v0"]["wild"], "wild_shifted": row["v0"]["wild_shifted"],
                                  "t0": row["v0"]["t0"], "lr": None, "steps": 0, "seconds": 0.0} | _gains(row))
            continue
        tasks[Task(cell.key(config), tuple(selection.chosen), str(path), str(train_sets), str(zoo_dir),
                   config.finetune, config.finetune_max_steps, cell.finetune_seed, config.lr)] = row
    for n, (task, measured) in enumerate(_finetune(tasks, workers), 1):
        row = tasks[task] | measured
        results.append(row | _gains(row))
        say(f"[{n}/{len(tasks)}] {task.key}: W gain {row['wild'] - row['v0']['wild']:+.4f} ({measured['seconds']:.0f} s)")
    timings["finetunes"] = time.perf_counter() - started - timings["predictions_and_selections"]
    keys = {c.key(config) for c in grid}
    rows = [_true_failures(r, failures[r["seed"]]) for r in results.rows() if r["key"] in keys]
    t0_zoo = {arch: read_meta(checkpoint_path(zoo_dir, arch)).get("t0_miou") for arch in zoo}
    return summarize(config, rows, precision, timings, workers, {"seeds": on_w, "t0_zoo": t0_zoo})


def priority(cell: Cell, config: StudyConfig) -> tuple:
    """The order cells are fine-tuned in, so that a study stopped early has whole rows, every seed each:
    MAD, entropy and random at the ablation budget, the ceilings, the other budgets, then the ablations."""
    at_aim = cell.selector in ("mad", "entropy", "random") and cell.budget == config.ablation_budget
    group = 0 if at_aim else 1 if cell.selector in CEILINGS else 2 if cell.selector in BUDGETED else 3
    return group, cell.budget, SELECTORS.index(cell.selector), cell.finetune_seed, cell.seed


class Results:
    """The results file: one JSON line per measured cell, appended and flushed as each finishes."""

    def __init__(self, path: Path):
        self.path = path
        self.keys = {r["key"] for r in self.rows()}

    def rows(self) -> list[dict]:
        """Every complete line (a line cut short by an interruption is skipped)."""
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return rows

    def append(self, row: dict) -> None:
        """Add one cell's line."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        self.keys.add(row["key"])


def curves(ctx: Context) -> dict[str, list[float]]:
    """precision@k of each selector's ranking at the ablation budget, k = 1..|M| (M at that budget's n3)."""
    failures = ctx.shared.failures(ctx.config.failure_threshold)
    size = len(ctx.candidates(ctx.config.n3_for(ctx.config.ablation_budget)))
    return {name: precision_at_k(SELECT[name](ctx, ctx.config.ablation_budget).ranking[:size], failures).tolist()
            for name in ctx.config.selectors if name not in CEILINGS}


def describe(cell: Cell, selection: Selection, ctx: Context) -> dict:
    """A cell's line before fine-tuning: what was picked, what it cost, how many picks are true failures."""
    failures = ctx.shared.failures(ctx.config.failure_threshold)
    chosen = selection.chosen
    return {"key": cell.key(ctx.config), **cell._asdict(), "chosen": chosen, "size": len(chosen),
            "candidates": selection.candidates,
            "ratings": selection.ratings, "hours": selection.hours,
            "precision_s": float(failures[chosen].mean()) if chosen else float("nan"),
            "true_miou_s": float(ctx.shared.true_miou[chosen].mean()) if chosen else float("nan"),
            "pool_failures": int(failures.sum()), "v0": ctx.shared.v0}


def _true_failures(row: dict, failures: np.ndarray) -> dict:
    """The row's failure counts under this run's threshold (a definition, so not part of a cell's key)."""
    chosen = row["chosen"]
    return row | {"precision_s": float(failures[chosen].mean()) if chosen else float("nan"),
                  "pool_failures": int(failures.sum())}


def _gains(row: dict) -> dict:
    return {"gain_wild": row["wild"] - row["v0"]["wild"],
            "gain_wild_shifted": row["wild_shifted"] - row["v0"]["wild_shifted"],
            "t0_change": row["t0"] - row["v0"]["t0"]}


def _context(config: StudyConfig, zoo, train_world, s0_masks, t0, out: Path, seed: int, say) -> tuple[Context, Path]:
    """The world seed's shared predictions (computed now unless shared/ holds them) and the selectors' context."""
    world = shared_file.wild_world(train_world, seed, config.pool_size, config.wild_size, config.pool_scenes)
    path = out / "shared" / (f"{config.world}-size{world.size}-s0{train_world.s0_size}-t0{train_world.t0_size}"
                             f"-pool{config.pool_size}-wild{config.wild_size}-seed{seed}.npz")
    if path.exists():
        shared = shared_file.load(path)
    else:
        clock = time.perf_counter()
        shared, arrays = shared_file.compute(zoo, world, s0_masks, t0)
        shared_file.save(path, shared, arrays)
        say(f"seed {seed}: predicted D ({config.pool_size}) and W ({config.wild_size}) with the zoo "
            f"in {time.perf_counter() - clock:.0f} s")
    return Context(shared, config), path


def _finetune(tasks: dict[Task, dict], workers: int):
    """(task, its measures) as each fine-tune finishes: in worker processes, or here with one worker."""
    if workers <= 1:
        for task in tasks:
            yield task, run_task(task)
        return
    # spawn, not fork: the parent has run torch's thread pools, which a forked child must not inherit.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=use_one_thread) as pool:
        futures: dict[Future, Task] = {pool.submit(run_task, task): task for task in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()
