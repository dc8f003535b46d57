"""Size bounds [p_k, q_k] per class from the training masks, and the subgroups they define."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SizeBounds:
    """Inclusive class-fraction bounds; index k of `lower`/`upper` is class k (index 0 unused)."""

    lower: np.ndarray  # (C+1,)
    upper: np.ndarray  # (C+1,)

    @property
    def num_classes(self) -> int:
        """C, the number of foreground classes."""
        return len(self.lower) - 1

    def subgroups(self, fractions: np.ndarray) -> np.ndarray:
        """Classes k in 1..C whose fraction f in this map satisfies 0 < f and p_k ≤ f ≤ q_k."""
        return np.flatnonzero(self._inside(fractions)) + 1

    def subgroups_of_rows(self, fractions: np.ndarray) -> list[list[int]]:
        """`subgroups` of each row of an (R, ≥C+1) array, in one pass: one image's maps at once."""
        inside = self._inside(fractions)
        rows, columns = np.nonzero(inside)
        classes: list[list[int]] = [[] for _ in range(len(inside))]
        for row, column in zip(rows.tolist(), columns.tolist()):
            classes[row].append(column + 1)
        return classes

    def _inside(self, fractions: np.ndarray) -> np.ndarray:
        """Per class 1..C (last axis), whether 0 < f and p_k ≤ f ≤ q_k; for one row or many."""
        f = np.asarray(fractions, dtype=np.float64)[..., 1 : self.num_classes + 1]
        return (f > 0) & (f >= self.lower[1:]) & (f <= self.upper[1:])

    def to_dict(self) -> dict:
        """Plain JSON-able form: {"lower": [...], "upper": [...]}."""
        return {"lower": self.lower.tolist(), "upper": self.upper.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "SizeBounds":
        """Inverse of `to_dict`."""
        return cls(np.asarray(data["lower"], dtype=np.float64), np.asarray(data["upper"], dtype=np.float64))


def size_bounds(train_fractions: np.ndarray, num_classes: int) -> SizeBounds:
    """p_k, q_k = 25th/75th percentiles (linear) of class k's fraction over training masks containing k.

    `train_fractions` is (N, ≥C+1): row i is `class_fractions` of training mask i. A class absent
    from every training mask gets [0, 1].
    """
    fractions = np.asarray(train_fractions, dtype=np.float64)
    if fractions.size == 0:
        fractions = np.zeros((0, num_classes + 1))
    if fractions.ndim != 2 or fractions.shape[1] < num_classes + 1:
        raise ValueError(f"expected (N, {num_classes + 1}) class fractions, got shape {fractions.shape}")
    lower = np.zeros(num_classes + 1)
    upper = np.ones(num_classes + 1)
    for k in range(1, num_classes + 1):  # C is small; each percentile is vectorised
        present = fractions[:, k][fractions[:, k] > 0]
        if present.size:
            lower[k], upper[k] = np.percentile(present, [25, 75])
    return SizeBounds(lower, upper)
