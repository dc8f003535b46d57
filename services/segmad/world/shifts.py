"""Shift factors: the ways a wild image departs from the training distribution."""

from __future__ import annotations

import numpy as np

# Factors a shifted wild image draws (one or two of them).
WILD_SHIFTS: tuple[str, ...] = (
    "scale_tiny",     # objects a third of their usual size, several of them
    "scale_huge",     # one object filling (and overflowing) the frame
    "rotation",       # turned far from the upright training pose
    "shear",          # squashed and slanted, a glancing viewpoint
    "perspective",    # lying on a plane that recedes
    "occlusion",      # solid bars hide part of the objects
    "clutter",        # busy background scattered with small junk
    "texture_swap",   # objects wear another class's texture
    "colour_swap",    # objects wear another class's colours
    "blur",           # out of focus
    "noise",          # heavy sensor noise
    "look_alike",     # background things with a class's colours and texture, but no class's shape
)
OUT_OF_DOMAIN = "out_of_domain"
SHIFT_FACTORS: tuple[str, ...] = WILD_SHIFTS + (OUT_OF_DOMAIN,)

# Pairs that contradict each other, never drawn together.
_EXCLUSIVE = {frozenset({"scale_tiny", "scale_huge"}), frozenset({"texture_swap", "colour_swap"})}
TWO_FACTOR_PROBABILITY = 0.4


def draw_shifts(rng: np.random.Generator) -> tuple[str, ...]:
    """One or two distinct, compatible shift factors, in WILD_SHIFTS order."""
    first = int(rng.integers(len(WILD_SHIFTS)))
    chosen = {first}
    if rng.random() < TWO_FACTOR_PROBABILITY:
        second = int(rng.integers(len(WILD_SHIFTS) - 1))
        second += second >= first  # any factor but the first
        if frozenset({WILD_SHIFTS[first], WILD_SHIFTS[second]}) not in _EXCLUSIVE:
            chosen.add(second)
    return tuple(WILD_SHIFTS[i] for i in sorted(chosen))
