"""Evaluation: dataset mIoU as PASCAL VOC computes it, and rank correlation between model rankings."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from segmad.mad.distance import IGNORE


class ConfusionMatrix:
    """One confusion matrix accumulated over a set; rows truth, columns prediction."""

    def __init__(self, num_labels: int):
        self.num_labels = num_labels
        self.matrix = np.zeros((num_labels, num_labels), dtype=np.int64)

    def update(self, truth: np.ndarray, prediction: np.ndarray) -> None:
        """Add one image (or a batch); pixels where either map is 255 are ignored."""
        t = np.asarray(truth).reshape(-1).astype(np.int64)
        p = np.asarray(prediction).reshape(-1).astype(np.int64)
        if t.shape != p.shape:
            raise ValueError(f"truth and prediction differ in size: {t.shape} vs {p.shape}")
        keep = (t != IGNORE) & (p != IGNORE)
        t, p = t[keep], p[keep]
        if t.size and (t.max() >= self.num_labels or p.max() >= self.num_labels):
            raise ValueError(f"label id outside 0..{self.num_labels - 1}")
        self.matrix += np.bincount(t * self.num_labels + p, minlength=self.num_labels**2).reshape(
            self.num_labels, self.num_labels
        )

    def merge(self, other: "ConfusionMatrix") -> None:
        """Add another matrix of the same size."""
        self.matrix += other.matrix

    def iou(self) -> np.ndarray:
        """IoU per label; NaN for labels absent from both truth and prediction."""
        intersection = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - intersection
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, intersection / np.maximum(union, 1), np.nan)

    def miou(self) -> float:
        """Mean IoU over labels present in truth or prediction (NaN if none)."""
        iou = self.iou()
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")

    def pixel_accuracy(self) -> float:
        """Share of counted pixels predicted right."""
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else float("nan")


def dataset_miou(truths: Sequence[np.ndarray], predictions: Sequence[np.ndarray], num_labels: int) -> float:
    """mIoU of a whole set: one confusion matrix over all its pixels."""
    matrix = ConfusionMatrix(num_labels)
    for truth, prediction in zip(truths, predictions, strict=True):
        matrix.update(truth, prediction)
    return matrix.miou()


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    rx, ry = _ranks(np.asarray(x, dtype=np.float64)), _ranks(np.asarray(y, dtype=np.float64))
    if len(rx) != len(ry):
        raise ValueError("rankings differ in length")
    if len(rx) < 2 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):  # ties share their average rank
        tied = values == v
        ranks[tied] = ranks[tied].mean()
    return ranks
