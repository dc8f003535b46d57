"""Samples of the world: each a pure function of (config, split, index)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from segmad.world.config import SPLIT_CODES, WILD_SPLITS, WorldConfig, check_split, split_size
from segmad.world.render import to_uint8
from segmad.world.scene import CAMERA_NOISE, render, render_out_of_domain
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
    scene = index % config.pool_scenes if split == "pool" and config.pool_scenes else index
    # One random stream per (seed, split, scene): any sample regenerates alone, in any order.
    rng = np.random.default_rng([config.seed, SPLIT_CODES[split], scene])
    draw = rng.random() if split in WILD_SPLITS else 1.0
    if draw < config.ood_fraction:
        image, mask = render_out_of_domain(rng, config.size)
        shifts, in_domain = (OUT_OF_DOMAIN,), False
    else:
        shifted = draw < config.ood_fraction + config.shifted_fraction
        shifts, in_domain = (draw_shifts(rng) if shifted else ()), True
        image, mask = render(rng, config.size, config.num_classes, shifts)
    if scene != index:
        image, mask = near_duplicate(np.random.default_rng([config.seed, SPLIT_CODES[split], index, 1]), image, mask)
    return Sample(f"{split}-{index:06d}", image, mask, shifts, in_domain)


def near_duplicate(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Another frame of the same scene: the view moved by up to 3 px and fresh sensor noise on top."""
    dy, dx = (int(v) for v in rng.integers(-3, 4, size=2))
    image, mask = np.roll(image, (dy, dx), axis=(0, 1)), np.roll(mask, (dy, dx), axis=(0, 1))
    noisy = image.astype(np.float32) + rng.normal(0.0, CAMERA_NOISE, image.shape).astype(np.float32)
    return to_uint8(noisy), mask


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
