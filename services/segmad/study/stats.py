"""Means with 95% confidence intervals over seeds (Student's t), and where a gain curve crosses a level."""

from __future__ import annotations

import math
from typing import Sequence

# t_{0.975, df} for df = 1..30; beyond, the normal quantile is within 2%.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with df degrees of freedom."""
    return _T975[df - 1] if df <= len(_T975) else 1.960


def interval(values: Sequence[float]) -> dict:
    """{"mean", "lo", "hi", "n"}: the mean and its 95% t-interval (NaN bounds with fewer than two values)."""
    xs = [float(v) for v in values if v is not None and not math.isnan(v)]
    if not xs:
        return {"mean": math.nan, "lo": math.nan, "hi": math.nan, "n": 0}
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return {"mean": mean, "lo": math.nan, "hi": math.nan, "n": 1}
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    half = t975(len(xs) - 1) * sd / math.sqrt(len(xs))
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "n": len(xs)}


def budget_to_reach(budgets: Sequence[int], gains: Sequence[float], level: float) -> float | None:
    """The smallest budget at which the gain curve reaches `level`, interpolated linearly between the
    grid's budgets; None when no budget of the grid reaches it."""
    points = sorted((b, g) for b, g in zip(budgets, gains) if not math.isnan(g))
    for n, (b, g) in enumerate(points):
        if g >= level:
            if n == 0:
                return float(b)
            b0, g0 = points[n - 1]
            return b0 + (b - b0) * (level - g0) / (g - g0)
    return None
