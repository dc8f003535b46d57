"""One-channel person maps as the two classes (background, person) a card's argmax needs."""

from __future__ import annotations

import numpy as np


def two_classes(person: np.ndarray, kind: str) -> np.ndarray:
    """(N, 2, H, W) float32 probabilities [1 - p, p] of an (N, H, W) person map.

    `kind` says what the map holds: "probabilities" (p in 0..1, clipped) or "logits" (p = sigmoid).
    A one-channel map cannot be argmaxed, so the background channel is made explicit here.
    """
    person = np.asarray(person, dtype=np.float32)
    if kind == "logits":
        p = 1.0 / (1.0 + np.exp(-np.clip(person, -60.0, 60.0)))
    elif kind == "probabilities":
        p = np.clip(person, 0.0, 1.0)
    else:
        raise ValueError(f"kind is 'probabilities' or 'logits', not {kind!r}")
    return np.stack([1.0 - p, p], axis=1).astype(np.float32)
