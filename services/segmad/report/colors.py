"""Colours for label maps (VOC-like palette; ignore pixels white)."""

from __future__ import annotations

import numpy as np


def palette(num_labels: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: (256, 3) uint8, label 0 black; 255 (ignore) set to white."""
    colors = np.zeros((256, 3), dtype=np.uint8)
    for label in range(256):
        c, r, g, b = label, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        colors[label] = (r, g, b)
    colors[255] = (255, 255, 255)
    return colors[:num_labels] if num_labels < 256 else colors


def colorize(label_map: np.ndarray) -> np.ndarray:
    """RGB picture (H, W, 3) of a uint8 label map."""
    return palette()[np.asarray(label_map, dtype=np.uint8)]
