"""Train the zoo's missing models on the synthetic world's S0, score them on T0, store them."""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path

import torch

from segmad import world
from segmad.models import INPUT_SIZE, build, param_count
from segmad.models.train import dataset_miou, train
from segmad.zoo.cards import write_card
from segmad.zoo.recipes import ZOO_ROLES, recipe
from segmad.zoo.store import checkpoint_path, read_meta, save, summary


def train_zoo(zoo_dir: Path, archs: list[str], *, seed: int = 0, force: bool = False, epochs: int | None = None,
              s0_count: int | None = None, t0_count: int | None = None, threads: int = 1,
              world_config: world.WorldConfig | None = None, progress: bool = True) -> list[dict]:
    """Train each arch whose checkpoint is missing (all of them with force), write each one's card; one row per arch."""
    config = world_config or world.WorldConfig(size=INPUT_SIZE)
    s0 = world.stack(config, "s0", range(min(s0_count or config.s0_size, config.s0_size)))
    t0 = world.stack(config, "t0", range(min(t0_count or config.t0_size, config.t0_size)))
    rows = []
    for arch in archs:
        path = checkpoint_path(zoo_dir, arch)
        if path.exists() and not force:
            rows.append({**summary(read_meta(path)), "status": "kept", "card": str(write_card(zoo_dir, arch))})
            continue
        meta = train_one(arch, s0, t0, config, recipe(arch, seed, epochs), threads, progress)
        save(path, meta.pop("model"), meta)
        rows.append({**summary(meta), "status": "trained", "card": str(write_card(zoo_dir, arch))})
    return rows


def train_one(arch, s0, t0, world_config, train_config, threads: int, progress: bool) -> dict:
    """Train one fresh arch on s0 = (images, masks); return its checkpoint metadata plus the model."""
    previous = torch.get_num_threads()
    # One thread by default: on 2 shared cores, two oneDNN threads stall each other (measured 10x
    # slower under load), and the thread count is part of what makes a run reproducible.
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(train_config.seed)  # the initial weights
        model = build(arch, world_config.num_classes)
        history = train(model, *s0, train_config, progress=progress)
        t0_miou = dataset_miou(model, *t0)
    finally:
        torch.set_num_threads(previous)
    return {
        "model": model, "arch": arch, "role": ZOO_ROLES[arch], "num_classes": world_config.num_classes,
        "class_names": list(world.CLASS_NAMES[: world_config.num_classes + 1]),
        "input_size": world_config.size, "recipe": dataclasses.asdict(train_config), "seed": train_config.seed,
        "t0_miou": t0_miou, "s0_images": len(s0[0]), "t0_images": len(t0[0]),
        "world": dataclasses.asdict(world_config), "params": param_count(model),
        "train_seconds": round(history["seconds"], 1),
        "train_cpu_seconds": round(history["cpu_seconds"], 1), "final_loss": history["loss"][-1], "threads": threads,
        "torch": torch.__version__, "machine": platform.machine(),
    }
