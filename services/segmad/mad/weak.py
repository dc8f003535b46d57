"""Weak labelling (paper §3.1.2): mean opinion scores on the 5-point ACR scale with an OOD veto."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

ACR_SCALE = {1: "bad", 2: "poor", 3: "fair", 4: "good", 5: "excellent"}
OUT_OF_DOMAIN = math.inf  # a veto: one such vote makes the image's score +∞


def check_rating(value: float) -> float:
    """The rating itself if it is 1..5 or OUT_OF_DOMAIN; ValueError otherwise."""
    if value == OUT_OF_DOMAIN or (float(value).is_integer() and int(value) in ACR_SCALE):
        return float(value)
    raise ValueError(f"a rating must be one of 1..5 or out-of-domain, got {value!r}")


def mean_opinion_scores(ratings: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """MOS per image over its annotators; +∞ if any annotator vetoed it; unrated images left out."""
    scores = {}
    for image_id, votes in ratings.items():
        checked = [check_rating(v) for v in votes]
        if checked:
            scores[image_id] = math.inf if OUT_OF_DOMAIN in checked else sum(checked) / len(checked)
    return scores


def lowest_scores(scores: Mapping[str, float], n4: int) -> list[str]:
    """S: the n4 images with the lowest finite MOS, ties by image id; vetoed images never qualify."""
    ranked = sorted((s, i) for i, s in scores.items() if math.isfinite(s))
    return [image_id for _, image_id in ranked[: max(n4, 0)]]


def out_of_domain(scores: Mapping[str, float]) -> set[str]:
    """Images vetoed as out-of-domain."""
    return {i for i, s in scores.items() if s == math.inf}
