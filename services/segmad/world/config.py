"""The world's configuration and its splits."""

from __future__ import annotations

from dataclasses import dataclass

# s0: training set S0; t0: in-domain test set T0; pool: the unlabelled wild pool D;
# wild: the held-out wild set W, drawn like D but never part of it.
SPLITS: tuple[str, ...] = ("s0", "t0", "pool", "wild")

# Distinct codes seed distinct random streams, so no two splits share an image.
SPLIT_CODES: dict[str, int] = {"s0": 1, "t0": 2, "pool": 3, "wild": 4}

# Splits drawn from the wild distribution (sparse shifts and out-of-domain images).
WILD_SPLITS: frozenset[str] = frozenset({"pool", "wild"})

# The image sides the world draws, in pixels. Memory grows with the side squared: rendering holds
# about 450 bytes per pixel (a bank of 32 noise fields among them), some 7.5 GB at 4096 px.
MIN_SIZE, MAX_SIZE = 16, 4096
MAX_CLASSES = 8  # the foreground classes the world knows


@dataclass(frozen=True)
class WorldConfig:
    """Everything that decides the world: a sample is a pure function of this, a split and an index."""

    num_classes: int = 8
    size: int = 64  # image side in pixels
    seed: int = 0
    s0_size: int = 1464  # S0, in-domain training set
    t0_size: int = 1149  # T0, in-domain test set
    pool_size: int = 40000  # D, the unlabelled wild pool
    wild_size: int = 2000  # W, held out, same distribution as D
    shifted_fraction: float = 0.15  # share of D and W with 1-2 shift factors
    ood_fraction: float = 0.05  # share of D and W that is out-of-domain
    # > 0: D holds near-duplicates of only this many scenes (as frames of video or driving data do);
    # 0: every image of D is its own scene. W stays independent scenes either way.
    pool_scenes: int = 0

    def __post_init__(self) -> None:
        check_num_classes(self.num_classes)
        check_size(self.size)
        if min(self.s0_size, self.t0_size, self.pool_size, self.wild_size, self.pool_scenes) < 0:
            raise ValueError("split sizes must be non-negative")
        if not (0 <= self.shifted_fraction and 0 <= self.ood_fraction
                and self.shifted_fraction + self.ood_fraction <= 1):
            raise ValueError("shifted_fraction and ood_fraction must be >= 0 and sum to <= 1")


def check_size(size: int, name: str = "size") -> None:
    """Raise ValueError unless size is an image side the world draws; the message calls it `name`
    (a command passes its option, e.g. "--size")."""
    if size < MIN_SIZE:
        raise ValueError(f"{name} must be at least {MIN_SIZE} px, got {size}")
    if size > MAX_SIZE:
        raise ValueError(f"{name} must be at most {MAX_SIZE} px, got {size}")


def check_num_classes(num_classes: int, name: str = "num_classes") -> None:
    """Raise ValueError unless the world has that many foreground classes; the message calls it `name`."""
    if not 1 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"{name} must be in 1..{MAX_CLASSES}, got {num_classes}")


def split_size(config: WorldConfig, split: str) -> int:
    """The number of samples in a split."""
    check_split(split)
    return {"s0": config.s0_size, "t0": config.t0_size,
            "pool": config.pool_size, "wild": config.wild_size}[split]


def check_split(split: str) -> None:
    """Raise ValueError unless split is one of SPLITS."""
    if split not in SPLIT_CODES:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
