"""Segmentation-like label maps for benchmarks: blocky objects on background, and controlled disagreement.

i.i.d. noise would make every pixel disagree and every histogram flat; real predictions are a few
smooth regions, and two good models differ on a thin share of pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def _ellipse(rng: np.random.Generator, shape: tuple[int, int], area: float) -> tuple[tuple[slice, slice], np.ndarray]:
    """A random ellipse of about `area` pixels: its bounding window and the mask inside that window."""
    h, w = shape
    aspect = rng.uniform(0.4, 2.5)
    ry = max(1.0, np.sqrt(area / (np.pi * aspect)))
    rx = max(1.0, ry * aspect)
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    y0, y1 = int(max(0, cy - ry)), int(min(h, cy + ry + 1))
    x0, x1 = int(max(0, cx - rx)), int(min(w, cx + rx + 1))
    yy, xx = np.ogrid[y0:y1, x0:x1]
    return (slice(y0, y1), slice(x0, x1)), ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def blocky_map(rng: np.random.Generator, size: int, num_labels: int) -> np.ndarray:
    """(size, size) uint8: background 0 with 1–4 objects (rectangles, ellipses) of classes 1..num_labels-1."""
    labels = np.zeros((size, size), dtype=np.uint8)
    for _ in range(int(rng.integers(1, 5))):
        label = int(rng.integers(1, num_labels))
        area = rng.uniform(0.02, 0.25) * size * size
        if rng.random() < 0.5:
            window, inside = _ellipse(rng, labels.shape, area)
            labels[window][inside] = label
        else:
            h = int(np.clip(np.sqrt(area) * rng.uniform(0.5, 2.0), 1, size))
            w = int(np.clip(area / h, 1, size))
            y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
            labels[y : y + h, x : x + w] = label
    return labels


def disagreeing_map(
    rng: np.random.Generator, labels: np.ndarray, low: float, high: float, num_labels: int
) -> np.ndarray:
    """A copy of `labels` in which about a share in [low, high] of pixels differs, in blobs."""
    out = labels.copy()
    goal = rng.uniform(low, high) * labels.size
    present = np.unique(labels)
    differing = 0
    for _ in range(100):  # each blob is at most the area still missing, so the share stays ≤ goal
        if differing >= max(low * labels.size, 0.9 * goal):
            break
        # wrong labels are mostly other classes present in the map (confusions), sometimes new ones
        label = int(rng.choice(present)) if rng.random() < 0.7 else int(rng.integers(0, num_labels))
        window, inside = _ellipse(rng, labels.shape, (goal - differing) * rng.uniform(0.5, 1.0))
        before = np.count_nonzero(out[window] != labels[window])  # recount the window only
        out[window][inside] = label
        differing += np.count_nonzero(out[window] != labels[window]) - before
    return out


def write_map(path: Path, labels: np.ndarray) -> None:
    """Save a label map as an L-mode PNG."""
    Image.fromarray(labels).save(path)
