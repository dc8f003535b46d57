"""Samples of the world: each a pure function of (config, split, index)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from segmad.world.config import SPLIT_CODES, WILD_SPLITS, WorldConfig, check_split, split_size
from segmad.world.scene import render, render_out_of_domain
from segmad.world.shifts import OUT_OF_DOMAIN, draw_shifts


@dataclass(frozen=True)
class Sample:
    """One image of the world with its truth."""

    image_id: str  # f"{split}-{index:06d}"
    image: np.ndarray  # (H, W, 3) uint8 RGB
    mask: np.ndarray  # (H, W) uint8: 0 background, 1..C classes, 255 ignore
    shifts: tuple[str, ...]  # the shift factors that made it; () when in-domain
    in_domain: bool  # False for out-of-domain images (objects of no known class)


def sample(config: WorldConfig, split: str, index: int) -> Sample:
    """The sample at index of split; the same arguments always give the same arrays."""
    size = split_size(config, split)
    if not 0 <= index < size:
        raise IndexError(f"index {index} outside split {split!r} of {size} samples")
    # One random stream per (seed, split, index): any sample regenerates alone, in any order.
    rng = np.random.default_rng([config.seed, SPLIT_CODES[split], index])
    draw = rng.random() if split in WILD_SPLITS else 1.0
    if draw < config.ood_fraction:
        image, mask = render_out_of_domain(rng, config.size)
        shifts, in_domain = (OUT_OF_DOMAIN,), False
    else:
        shifted = draw < config.ood_fraction + config.shifted_fraction
        shifts, in_domain = (draw_shifts(rng) if shifted else ()), True
        image, mask = render(rng, config.size, config.num_classes, shifts)
    return Sample(f"{split}-{index:06d}", image, mask, shifts, in_domain)


def samples(config: WorldConfig, split: str, start: int = 0,
            count: int | None = None) -> Iterator[Sample]:
    """The samples start, start+1, ... of split (to its end when count is None)."""
    size = split_size(config, split)
    if start < 0 or (count is not None and count < 0):
        raise ValueError("start and count must be non-negative")
    stop = size if count is None else min(size, start + count)
    for index in range(start, stop):
        yield sample(config, split, index)


def stack(config: WorldConfig, split: str,
          indices: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W, 3) uint8 and masks (N, H, W) uint8 of the given indices of split."""
    check_split(split)
    chosen = list(indices)
    images = np.empty((len(chosen), config.size, config.size, 3), np.uint8)
    masks = np.empty((len(chosen), config.size, config.size), np.uint8)
    for row, index in enumerate(chosen):
        one = sample(config, split, int(index))
        images[row], masks[row] = one.image, one.mask
    return images, masks
