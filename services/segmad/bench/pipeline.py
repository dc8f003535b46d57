"""`segmad bench pipeline`: mining throughput over the local stack against the same work done in-process.

Over the stack: the inference and discrepancy workers run as processes on PostgreSQL, S3, the broker
and TorchServe (a private stack with TorchServe is started when `make up`'s is not running). In
process: pipeline.stages.predict + stages.mine on SQLite, a local folder and the in-memory bus. Same
pool, models and batch size; the ratio stack/in-process is the figure (the issue aims at ≥ 0.7).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import uuid
from pathlib import Path

import numpy as np

from segmad.errors import InputError

TIERS = ("infra", "torchserve")  # the workers are the benchmark's own; the stack's services are not needed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--images N --size S --batch-size B --n3 N --dir DIR --no-torchserve --repeat N --format text|json."""
    parser.add_argument("--images", type=int, default=300, help="world pool images to mine (default 300)")
    parser.add_argument("--size", type=int, default=None,
                        help="side of the pool's images in pixels, a multiple of 16 (default: the zoo's input "
                             "size, 64): the services path's cost grows with the images' PNGs")
    parser.add_argument("--batch-size", type=int, default=8, help="batch size of both runs (default 8)")
    parser.add_argument("--n3", type=int, default=5, help="images kept per heap (default 5)")
    parser.add_argument("--dir", default="var/stack", help="the stack to use if it runs (default var/stack)")
    parser.add_argument("--no-torchserve", action="store_true",
                        help="the inference worker runs the models in its own process (to see TorchServe's share)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="pairs of runs (in process, then stack), interleaved; the ratio reported is their "
                             "median (default 1; 3 or more on a shared machine, whose speed drifts between runs)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _stack_env(root: str, work: Path, say) -> tuple[dict[str, str], object | None]:
    """The settings of a stack with TorchServe: `root`'s if it runs, else a private one started now."""
    from segmad.stack.local import Stack

    stack = Stack(root)
    env = stack.read_env()
    if env.get("SEGMAD_TORCHSERVE_URL") and all(
            row["state"] == "running" for row in stack.status() if row["tier"] in TIERS and row["name"] != "postgres"):
        say(f"using the stack in {stack.root}")
        return env, None
    say(f"no stack with TorchServe runs in {root}: starting a private one (infra and TorchServe)")
    private = Stack(work / "stack")
    return private.up(say=say, tiers=TIERS), private


def _pool(args, zoo_dir: Path, say):
    from segmad.bench.pipeline_models import pipeline_models, zoo_input_size
    from segmad.bench.pipeline_runs import Pool
    from segmad.mad import class_fractions, size_bounds
    from segmad.world import WorldConfig, stack

    num_classes, size = zoo_input_size(zoo_dir) or (WorldConfig().num_classes, WorldConfig().size)
    size = args.size or size  # the zoo's architectures are fully convolutional: any multiple of 16 runs
    world = WorldConfig(num_classes=num_classes, size=size)
    images = stack(world, "pool", range(args.images))[0]
    masks = stack(world, "s0", range(200))[1]
    bounds = size_bounds(np.stack([class_fractions(m, num_classes) for m in masks]), num_classes)
    # A fresh name per run: TorchServe's model names are global to the server.
    models = pipeline_models(zoo_dir, num_classes, images[:64], prefix=f"bench-{uuid.uuid4().hex[:6]}-")
    if not models[0].trained:
        say(f"note: no trained zoo in {zoo_dir} (`segmad zoo train`): untrained architectures, BatchNorm set from the pool")
    ids = [f"pool-{i:06d}" for i in range(args.images)]
    return models, Pool(ids, images, bounds, args.n3, num_classes, size, args.batch_size)


def summary(runs: list[dict]) -> dict:
    """The median run's figures (by ratio; the upper one of an even count), every run's ratio, and every
    run's images/s on both sides: the in-process rate swings from run to run on a shared machine, and
    the ratio with it, so the stack's own rates are reported beside it."""
    middle = sorted(runs, key=lambda run: run["ratio"])[len(runs) // 2]
    stacked, local = middle["stack"], middle["in_process"]
    return {"stack": stacked, "in_process": local, "ratio": middle["ratio"], "ratios": [run["ratio"] for run in runs],
            "images_per_s": {"stack": [run["stack"]["images_per_s"] for run in runs],
                             "in_process": [run["in_process"]["images_per_s"] for run in runs]},
            # What the services path adds per image, in the median run.
            "overhead_ms_per_image": 1000 * (1 / stacked["images_per_s"] - 1 / local["images_per_s"])}


def run(args: argparse.Namespace) -> int:
    """Both runs, then the figures."""
    from segmad import settings
    from segmad.bench.pipeline_runs import StackRun, embedded

    if args.images < 1 or args.batch_size < 1 or args.n3 < 1 or args.repeat < 1:
        raise InputError("--images, --batch-size, --n3 and --repeat must be at least 1")
    if args.size is not None and (args.size < 16 or args.size % 16):
        raise InputError(f"--size must be a multiple of 16 (the zoo's architectures halve an image four times), got {args.size}")
    say = print if args.format == "text" else (lambda line: None)
    runs = []
    with tempfile.TemporaryDirectory(prefix="segmad-bench-pipeline-") as tmp:
        work = Path(tmp)
        env, private = _stack_env(args.dir, work, say)
        try:
            if not env.get("SEGMAD_DATABASE_URL"):
                raise InputError("the pipeline benchmark needs PostgreSQL (DATABASE_URL, or one at 127.0.0.1:5432)")
            for n in range(args.repeat):
                models, pool = _pool(args, settings.load().zoo_dir, say if n == 0 else (lambda line: None))
                say(f"run {n + 1}/{args.repeat}, in process: {args.images} images of {pool.input_size} px, models "
                    f"{', '.join(m.arch for m in models)}, batch {args.batch_size}")
                local = embedded(models, pool)
                say(f"in process: {local['images_per_s']:.1f} images/s ({local['seconds']:.1f} s)")
                (work / f"run-{n}").mkdir()
                over = StackRun(env, work / f"run-{n}", say, torchserve=not args.no_torchserve)
                try:
                    over.publish(models, pool)
                    stacked = over.run(models, pool)
                finally:
                    over.close()
                runs.append({"stack": stacked, "in_process": local,
                             "ratio": stacked["images_per_s"] / local["images_per_s"]})
                say(f"run {n + 1}: stack {stacked['images_per_s']:.1f} images/s, ratio {runs[-1]['ratio']:.2f}")
        finally:
            if private is not None:
                private.down(grace_s=5)
    figures = {"images": args.images, "size": pool.input_size, "batch_size": args.batch_size, "models": [m.arch for m in models],
               "torchserve": not args.no_torchserve, "trained_zoo": models[0].trained, **summary(runs)}
    stacked, local = figures["stack"], figures["in_process"]
    if args.format == "json":
        print(json.dumps(figures, indent=2))
        return 0
    print(f"stack:      {stacked['images_per_s']:.1f} images/s ({stacked['seconds']:.1f} s from first ingest to "
          f"last heap update; ingest alone {stacked['ingest_seconds']:.1f} s)")
    print(f"in process: {local['images_per_s']:.1f} images/s ({local['seconds']:.1f} s)")
    print(f"ratio stack / in process: {figures['ratio']:.2f}" + (
        f" (median of {len(runs)}: {', '.join(f'{r:.2f}' for r in figures['ratios'])})" if len(runs) > 1 else ""))
    if len(runs) > 1:
        rates = figures["images_per_s"]
        print("images/s by run: stack " + ", ".join(f"{r:.0f}" for r in rates["stack"]) +
              "; in process " + ", ".join(f"{r:.0f}" for r in rates["in_process"]))
    print(f"overhead of the services path: {figures['overhead_ms_per_image']:.1f} ms per image")
    print(f"|M|: stack {stacked['candidates']}, in process {local['candidates']}")
    print(f"busy: inference worker {stacked['inference_busy_seconds']:.1f} s, "
          f"discrepancy worker {stacked['discrepancy_busy_seconds']:.1f} s")
    if stacked.get("cpu_seconds"):
        cpu = stacked["cpu_seconds"]
        print(f"CPU seconds of the stack run ({sum(cpu.values()):.1f} in all, {stacked['seconds']:.1f} s of wall "
              f"on {os.cpu_count()} cores): " + ", ".join(f"{name} {v:.2f}" for name, v in
                                                        sorted(cpu.items(), key=lambda kv: -kv[1]) if v >= 0.01))
    if stacked.get("s3_requests_per_image"):
        print("S3 requests per image: " + ", ".join(
            f"{key} {v:.2f}" for key, v in sorted(stacked["s3_requests_per_image"].items())))
    print(f"database writes per image: discrepancy worker {stacked['discrepancy_db_writes_per_image']:.2f}, "
          f"inference worker {stacked['inference_db_writes_per_image']:.2f}")
    return 0
