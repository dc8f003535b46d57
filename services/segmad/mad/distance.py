"""The discrepancy d = 1 − mIoU between two label maps (DESIGN §2), and per-class pixel counts."""

from __future__ import annotations

import numpy as np

IGNORE = 255
NUM_LABEL_VALUES = 256  # label maps are uint8


def _flat(label_map: np.ndarray) -> np.ndarray:
    array = np.asarray(label_map)
    if array.dtype != np.uint8:
        raise TypeError(f"label maps must be uint8, got {array.dtype}")
    return array.reshape(-1)


_SAMPLE_STRIDE = 97
_LARGE_MAP = 1 << 14


def label_counts(label_map: np.ndarray) -> np.ndarray:
    """Pixels per label value: an int64 array of 256 counts (index 255 counts ignore pixels)."""
    flat = _flat(label_map)
    if flat.size >= _LARGE_MAP:
        # np.bincount first widens uint8 to intp (8x the memory traffic). A map holds few labels:
        # find them in a strided sample and count each with one comparison pass; the counts are
        # exact whenever they account for every pixel, else the sample missed a label.
        present = np.unique(flat[::_SAMPLE_STRIDE])
        found = [np.count_nonzero(flat == label) for label in present]
        if sum(found) == flat.size:
            counts = np.zeros(NUM_LABEL_VALUES, dtype=np.int64)
            counts[present] = found
            return counts
    return np.bincount(flat, minlength=NUM_LABEL_VALUES)


def class_fractions(label_map: np.ndarray, num_classes: int) -> np.ndarray:
    """Fraction of the map's h·w pixels holding each label 0..C (float64, length C+1)."""
    flat = _flat(label_map)
    if flat.size == 0:
        return np.zeros(num_classes + 1)
    return label_counts(flat)[: num_classes + 1] / float(flat.size)


def _miou_from_counts(counts_a: np.ndarray, counts_b: np.ndarray, a_disagreeing: np.ndarray) -> float:
    # |a=k ∧ b=k| = |a=k| − |a=k ∧ a≠b|: only disagreeing pixels need a histogram, which keeps
    # the usual case (maps that mostly agree) close to the cost of one comparison pass.
    intersection = counts_a - label_counts(a_disagreeing)
    union = counts_a + counts_b - intersection
    present = union > 0
    return float(np.mean(intersection[present] / union[present]))


def discrepancy(
    a: np.ndarray,
    b: np.ndarray,
    counts_a: np.ndarray | None = None,
    counts_b: np.ndarray | None = None,
) -> float:
    """d(a, b) = 1 − mIoU over labels present in a or b, ignoring pixels where either map is 255.

    `counts_a`/`counts_b` are the maps' `label_counts`, when the caller already has them (the
    pipeline computes them once per map for the class fractions); they are computed otherwise.
    """
    a_flat, b_flat = _flat(a), _flat(b)
    if np.shape(a) != np.shape(b):
        raise ValueError(f"label maps differ in shape: {np.shape(a)} vs {np.shape(b)}")
    counts_a = label_counts(a_flat) if counts_a is None else counts_a
    counts_b = label_counts(b_flat) if counts_b is None else counts_b
    if counts_a[IGNORE] or counts_b[IGNORE]:
        valid = (a_flat != IGNORE) & (b_flat != IGNORE)
        a_flat, b_flat = a_flat[valid], b_flat[valid]
        counts_a, counts_b = label_counts(a_flat), label_counts(b_flat)
    if a_flat.size == 0:
        return 0.0
    disagreeing = np.flatnonzero(a_flat != b_flat)
    if disagreeing.size == 0:
        return 0.0
    return 1.0 - _miou_from_counts(counts_a, counts_b, a_flat[disagreeing])
