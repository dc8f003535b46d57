"""The unbiased test set T of a round (paper §4.1.6)."""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from segmad.mad.distance import label_counts


def main_class(label_map: np.ndarray, num_classes: int) -> int:
    """The foreground class with most pixels in the map (smallest id on ties); 0 if it has none."""
    counts = label_counts(label_map)[1 : num_classes + 1]
    return int(np.argmax(counts)) + 1 if counts.any() else 0


def select_test_set(
    candidates: Iterable[str],
    main_classes: Mapping[str, int],
    exclude: Iterable[str] = (),
    size: int = 30,
    per_class: int = 4,
    seed: int = 0,
) -> list[str]:
    """T: up to `size` images drawn at random from `candidates` minus `exclude`, ≤ `per_class` per main class.

    `exclude` holds the fine-tuning set S and the out-of-domain images. Images whose map has no
    foreground form their own group (main class 0) under the same cap. Sorted by id.
    """
    excluded = set(exclude)
    pool = sorted(set(candidates) - excluded)
    order = np.random.default_rng(seed).permutation(len(pool))
    taken: dict[int, int] = {}
    chosen = []
    for index in order:
        image_id = pool[index]
        k = main_classes[image_id]
        if taken.get(k, 0) < per_class:
            taken[k] = taken.get(k, 0) + 1
            chosen.append(image_id)
            if len(chosen) == size:
                break
    return sorted(chosen)
