"""Krippendorff's alpha with the ordinal metric: agreement between annotators on ACR ratings."""

from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence


def ordinal_alpha(units: Mapping[object, Sequence[int]]) -> float | None:
    """Alpha over units (e.g. images) each with the values its annotators gave; None if undefined.

    Units with fewer than two values are not pairable and are left out (Krippendorff 2011).
    """
    pairable = [list(v) for v in units.values() if len(v) >= 2]
    coincidence: Counter = Counter()
    for values in pairable:
        m = len(values)
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    coincidence[c, k] += 1 / (m - 1)
    totals: Counter = Counter()
    for (c, _), o in coincidence.items():
        totals[c] += o
    n = sum(totals.values())
    levels = sorted(totals)
    if n <= 1 or len(levels) < 2:
        return None

    def delta2(c, k):
        # Ordinal distance: the mass of the ranks between c and k, halving the two ends.
        lo, hi = min(c, k), max(c, k)
        between = sum(totals[g] for g in levels if lo <= g <= hi)
        return (between - (totals[c] + totals[k]) / 2) ** 2

    observed = sum(o * delta2(c, k) for (c, k), o in coincidence.items())
    expected = sum(totals[c] * totals[k] * delta2(c, k) for c in levels for k in levels)
    return 1 - (n - 1) * observed / expected
