"""Colours for label maps (VOC-like palette; ignore pixels white)."""

from __future__ import annotations

import numpy as np

from segmad.codec import voc_palette


def palette() -> np.ndarray:
    """The VOC colour map (256, 3) uint8 with ignore (255) shown white."""
    colors = voc_palette()
    colors[255] = (255, 255, 255)
    return colors


_PALETTE = palette()


def colorize(label_map: np.ndarray) -> np.ndarray:
    """RGB picture (H, W, 3) of a uint8 label map."""
    return _PALETTE[np.asarray(label_map, dtype=np.uint8)]
