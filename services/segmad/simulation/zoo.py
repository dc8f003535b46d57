"""The demo's zoo: train what is missing, load all six."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from torch import nn

from segmad.models import ARCHITECTURES
from segmad.world import WorldConfig
from segmad.zoo import checkpoint_path, load
from segmad.zoo.training import train_zoo


def ensure_zoo(zoo_dir: Path, progress: bool = True) -> tuple[dict[str, nn.Module], WorldConfig]:
    """Every architecture's model (trained now if its checkpoint is missing) and the world it learned."""
    train_zoo(zoo_dir, list(ARCHITECTURES), progress=progress)
    zoo, world = {}, None
    for arch in ARCHITECTURES:
        model, meta = load(checkpoint_path(zoo_dir, arch))
        zoo[arch] = model.eval()
        world = WorldConfig(**meta["world"])
    return zoo, world


# A small, weak zoo that trains in seconds on 32×32 images: for tests and quick end-to-end runs,
# where the loop's mechanics matter, not the models' quality.
TINY = {"epochs": 6, "s0_count": 256, "t0_count": 32, "size": 32}


def ensure_tiny_zoo(zoo_dir: Path) -> tuple[dict[str, nn.Module], WorldConfig]:
    """Every architecture trained briefly on 32×32 images (trained now if missing) and its world."""
    world = WorldConfig(size=TINY["size"])
    train_zoo(zoo_dir, list(ARCHITECTURES), epochs=TINY["epochs"], s0_count=TINY["s0_count"],
              t0_count=TINY["t0_count"], world_config=world, progress=False)
    zoo, trained = ensure_zoo(zoo_dir, progress=False)
    return zoo, replace(trained, s0_size=TINY["s0_count"], t0_size=TINY["t0_count"])
