"""The paper's claims as checks on a run's summary: each holds or not, with the numbers."""

from __future__ import annotations

import math


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def conclusions(summary: dict) -> list[dict]:
    """[{"claim", "holds", "evidence"}] for the claims the paper makes (§4.2, Table 1, Table 2)."""
    out = []
    rounds = summary.get("rounds", [])
    if len(rounds) >= 2:
        first, last = rounds[0], rounds[-1]
        w0, wn = first["wild"]["target"], last["wild"]["target"]
        out.append({"claim": "the target improves on the held-out wild set W", "holds": wn > w0,
                    "evidence": f"W mIoU {_fmt(w0)} → {_fmt(wn)}"})
        t0_drop = first["t0"]["target"] - last["t0"]["target"]
        out.append({"claim": "the target holds on T0 (within 0.02)", "holds": t0_drop <= 0.02,
                    "evidence": f"T0 mIoU {_fmt(first['t0']['target'])} → {_fmt(last['t0']['target'])}"})
        competitors = {m: v for m, v in last["t"].items() if m != "target"}
        best = max(competitors.values()) if competitors else float("nan")
        out.append({"claim": f"the target overtakes every competitor on T({last['round']})",
                    "holds": bool(competitors) and last["t"]["target"] > best,
                    "evidence": f"target {_fmt(last['t']['target'])} vs best competitor {_fmt(best)}"})
    baselines = summary.get("baselines")
    if baselines:
        mad = baselines["mad"]
        for other in ("entropy", "random"):
            if other in baselines:
                out.append({"claim": f"MAD beats {other} selection on W (same budget)", "holds": mad > baselines[other],
                            "evidence": f"MAD {_fmt(mad)} vs {other} {_fmt(baselines[other])}"})
    shifted = summary.get("baselines_wild_shifted")
    if shifted:
        for other in ("entropy", "random"):
            if other in shifted:
                out.append({"claim": f"MAD beats {other} selection on the shifted images of W (same budget)",
                            "holds": shifted["mad"] > shifted[other],
                            "evidence": f"MAD {_fmt(shifted['mad'])} vs {other} {_fmt(shifted[other])}"})
    precision = summary.get("precision")
    if precision:
        out.append({"claim": "S holds more true failures than a random sample of D",
                    "holds": precision["s"] > precision["random"],
                    "evidence": f"S {_fmt(precision['s'])}, M {_fmt(precision['m'])}, random {_fmt(precision['random'])}"})
    cost = summary.get("cost")
    if cost:
        spent = cost["weak_hours"] + cost["dense_hours"]
        out.append({"claim": "weak labelling cuts the cost versus dense labelling all of M",
                    "holds": spent < cost["dense_all_m_hours"],
                    "evidence": f"{spent:.1f} h vs {cost['dense_all_m_hours']:.1f} h"})
    return out
