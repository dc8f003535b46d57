"""Baseline selectors with the same labelling budget as MAD: entropy-based and random (paper Table 2)."""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np


def mean_entropy(probabilities: np.ndarray) -> np.ndarray:
    """Mean per-pixel entropy (nats) of softmax maps (..., L, H, W) → shape (...)."""
    p = np.asarray(probabilities, dtype=np.float64)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -plogp.sum(axis=-3).mean(axis=(-2, -1))


def select_by_entropy(scores: Mapping[str, float], budget: int) -> list[str]:
    """The `budget` images of highest mean entropy, ties by image id."""
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [image_id for image_id, _ in ranked[: max(budget, 0)]]


def select_random(image_ids: Iterable[str], budget: int, seed: int = 0) -> list[str]:
    """`budget` images drawn uniformly without replacement, reproducible from the seed."""
    pool = sorted(set(image_ids))
    picked = np.random.default_rng(seed).choice(len(pool), size=min(max(budget, 0), len(pool)), replace=False)
    return [pool[i] for i in sorted(picked)]
