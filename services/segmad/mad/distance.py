"""The discrepancy d = 1 − mIoU between two label maps (DESIGN §2), and per-class pixel counts."""

from __future__ import annotations

import numpy as np

IGNORE = 255
NUM_LABEL_VALUES = 256  # label maps are uint8


def _flat(label_map: np.ndarray) -> np.ndarray:
    array = np.asarray(label_map)
    if array.dtype != np.uint8:
        raise TypeError(f"label maps must be uint8, got {array.dtype}")
    return np.ascontiguousarray(array).reshape(-1)  # contiguous: d compares 8 pixels as one uint64


_SAMPLE_STRIDE = 97
_LARGE_MAP = 1 << 14


def label_counts(label_map: np.ndarray) -> np.ndarray:
    """Pixels per label value: an int64 array of 256 counts (index 255 counts ignore pixels)."""
    flat = _flat(label_map)
    if flat.size >= _LARGE_MAP:
        # np.bincount first widens uint8 to intp (8x the memory traffic) and slows on runs of one
        # label. A map holds few labels: find them in a strided sample and count each with one
        # comparison pass; the counts are exact whenever they account for every pixel, else the
        # sample missed a label.
        present = np.flatnonzero(np.bincount(flat[::_SAMPLE_STRIDE], minlength=NUM_LABEL_VALUES)).tolist()
        counts = _counts_of(flat, present)
        if counts[present].sum() == flat.size:
            return counts
    return np.bincount(flat, minlength=NUM_LABEL_VALUES)


def _counts_of(values: np.ndarray, labels: list[int]) -> np.ndarray:
    """Counts (int64, 256) of `labels` among uint8 values, one comparison pass each; other labels 0."""
    counts = np.zeros(NUM_LABEL_VALUES, dtype=np.int64)
    hits = np.empty(values.size, dtype=bool)  # one buffer for every pass: it stays in cache
    counts[labels] = [np.count_nonzero(np.equal(values, label, out=hits)) for label in labels]
    return counts


def class_fractions(label_map: np.ndarray, num_classes: int) -> np.ndarray:
    """Fraction of the map's h·w pixels holding each label 0..C (float64, length C+1)."""
    flat = _flat(label_map)
    if flat.size == 0:
        return np.zeros(num_classes + 1)
    return label_counts(flat)[: num_classes + 1] / float(flat.size)


# Below this share of 8-pixel words where two maps differ, d gathers the pixels of those words;
# above it, one comparison pass per label over all pixels costs less than the gathers.
_GATHER_BELOW = 1 / 8


def _differing_words(a_flat: np.ndarray, b_flat: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """a's and b's pixels in the 8-pixel words where the maps differ (uint8, in pixel order); None when many.

    Eight pixels compare at once as one uint64, so maps that mostly agree cost a fraction of one
    byte-wise pass, and every pixel outside these words is one where a = b.
    """
    whole = a_flat.size - a_flat.size % 8
    words_a, words_b = a_flat[:whole].view(np.uint64), b_flat[:whole].view(np.uint64)
    differ = words_a != words_b
    if np.count_nonzero(differ) >= _GATHER_BELOW * differ.size:
        return None
    return (np.concatenate([words_a[differ].view(np.uint8), a_flat[whole:]]),
            np.concatenate([words_b[differ].view(np.uint8), b_flat[whole:]]))


def _present(counts: np.ndarray) -> list[int]:
    return np.flatnonzero(counts).tolist()


def _agreeing_counts(a_flat: np.ndarray, disagreeing: np.ndarray, labels: list[int]) -> list[int]:
    """|a=k ∧ a=b| for each label k, one comparison pass each; overwrites the `disagreeing` mask."""
    # a where the maps agree, 255 where they do not (255 is none of the labels: ignore pixels are gone)
    agreeing = disagreeing.view(np.uint8)
    np.negative(agreeing, out=agreeing)
    np.bitwise_or(agreeing, a_flat, out=agreeing)
    return _counts_of(agreeing, labels)[labels].tolist()


def _miou(counts_a: np.ndarray, counts_b: np.ndarray, shared: list[int], counted: list[int], n_agreeing: int) -> float:
    """mIoU from both maps' counts and |a=k ∧ b=k| for the `shared` labels but the first (`counted`).

    Only labels in both maps have agreeing pixels, and these add up to n_agreeing: the first
    shared label's intersection follows from the others', so maps sharing one label need no
    counting pass.
    """
    intersection = np.zeros(NUM_LABEL_VALUES, dtype=np.int64)
    if shared:
        intersection[shared[1:]] = counted
        intersection[shared[0]] = n_agreeing - sum(counted)
    union = counts_a + counts_b - intersection
    present = union > 0
    ious = intersection[present] / union[present]
    return float(np.add.reduce(ious) / ious.size)  # np.mean's arithmetic, without its Python overhead


def _without_ignored(
    a_flat: np.ndarray, b_flat: np.ndarray, counts_a: np.ndarray, counts_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not (counts_a[IGNORE] or counts_b[IGNORE]):
        return a_flat, b_flat, counts_a, counts_b
    valid = (a_flat != IGNORE) & (b_flat != IGNORE)
    a_flat, b_flat = a_flat[valid], b_flat[valid]
    return a_flat, b_flat, label_counts(a_flat), label_counts(b_flat)


def _checked_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a_flat, b_flat = _flat(a), _flat(b)
    if np.shape(a) != np.shape(b):
        raise ValueError(f"label maps differ in shape: {np.shape(a)} vs {np.shape(b)}")
    return a_flat, b_flat


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
    a_flat, b_flat = _checked_pair(a, b)
    counts_a = label_counts(a_flat) if counts_a is None else counts_a
    counts_b = label_counts(b_flat) if counts_b is None else counts_b
    a_flat, b_flat, counts_a, counts_b = _without_ignored(a_flat, b_flat, counts_a, counts_b)
    shared = _present(np.minimum(counts_a, counts_b))
    # the counts alone may show that many pixels differ: then skip the word comparison
    surely_differing = np.abs(counts_a - counts_b).sum() // 2
    parts = None if surely_differing >= _GATHER_BELOW * a_flat.size else _differing_words(a_flat, b_flat)
    if parts is not None:  # few differ: |a=k ∧ b=k| = |a=k| − |a=k ∧ a≠b|, counted where they differ
        differing = parts[0] != parts[1]
        a_disagreeing = parts[0][differing]
        n_disagreeing = a_disagreeing.size
        lost = _counts_of(a_disagreeing, shared[1:])
        counted = (counts_a[shared[1:]] - lost[shared[1:]]).tolist()
    else:
        disagreeing = a_flat != b_flat
        n_disagreeing = int(np.count_nonzero(disagreeing))
        counted = _agreeing_counts(a_flat, disagreeing, shared[1:]) if n_disagreeing else []
    if n_disagreeing == 0:  # identical maps, or no pixel left
        return 0.0
    return 1.0 - _miou(counts_a, counts_b, shared, counted, a_flat.size - n_disagreeing)


def discrepancy_and_counts(a: np.ndarray, b: np.ndarray, counts_a: np.ndarray) -> tuple[float, np.ndarray]:
    """d(a, b) and `label_counts(b)`, given `label_counts(a)`: where b mostly agrees with a, only its
    differing pixels are read, as label_counts(b) = label_counts(a) − a's labels there + b's labels there.
    """
    a_flat, b_flat = _checked_pair(a, b)
    parts = _differing_words(a_flat, b_flat)
    if parts is None:
        counts_b = label_counts(b_flat)
        return discrepancy(a_flat, b_flat, counts_a, counts_b), counts_b
    differing = parts[0] != parts[1]
    a_disagreeing, b_disagreeing = parts[0][differing], parts[1][differing]
    lost = _counts_of(a_disagreeing, _present(counts_a))
    counts_b = counts_a - lost + label_counts(b_disagreeing)
    if counts_a[IGNORE] or counts_b[IGNORE]:
        return discrepancy(a_flat, b_flat, counts_a, counts_b), counts_b
    if a_disagreeing.size == 0:
        return 0.0, counts_b
    shared = _present(np.minimum(counts_a, counts_b))
    counted = (counts_a[shared[1:]] - lost[shared[1:]]).tolist()
    return 1.0 - _miou(counts_a, counts_b, shared, counted, a_flat.size - a_disagreeing.size), counts_b
