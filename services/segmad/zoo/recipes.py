"""Which zoo model plays which role, and the recipe each one is trained with."""

from __future__ import annotations

from dataclasses import replace

from segmad.models import ARCHITECTURES, TARGET_ARCH
from segmad.models.train import TrainConfig

# The target f_t is the one MAD troubleshoots; the competitors g_j only compete with it.
ZOO_ROLES: dict[str, str] = {arch: "target" if arch == TARGET_ARCH else "competitor" for arch in ARCHITECTURES}

# Departures from TrainConfig's defaults (12 epochs of 32, SGD lr 0.05, poly 0.9), which take every
# competitor past 0.80 T0 mIoU; the target gets a third more epochs, as the paper's target is the
# "top-performing" model. The whole zoo trains in about ten minutes on one core.
RECIPES: dict[str, dict] = {arch: {"epochs": 16} if arch == TARGET_ARCH else {} for arch in ARCHITECTURES}


def recipe(arch: str, seed: int = 0, epochs: int | None = None) -> TrainConfig:
    """The training recipe of arch for a seed, optionally with the number of epochs overridden."""
    config = replace(TrainConfig(), seed=seed, **RECIPES[arch])
    return config if epochs is None else replace(config, epochs=epochs)
