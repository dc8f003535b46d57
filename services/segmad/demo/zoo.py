"""The demo's zoo: train what is missing, load all six."""

from __future__ import annotations

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
