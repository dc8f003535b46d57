"""Turn a run on the world into the report: summary.json's content and figures."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

import numpy as np

from segmad.simulation.records import RunRecord
from segmad.report.figures import GalleryRow, bar_chart, gallery, line_chart
from segmad.world import SHIFT_FACTORS

HOUR = 3600.0


def _share(flags) -> float:
    flags = list(flags)
    return float(np.mean(flags)) if flags else float("nan")


def summarize(run: RunRecord) -> dict:
    """The summary.json content (schema in the README)."""
    threshold = run.config.failure_threshold
    def hours(kind: str, catalog_round: int) -> float:
        return sum(b.seconds for k, n, b in run.bookings if k == kind and n == catalog_round) / HOUR

    rounds = [
        {"round": r.round, "t0": r.t0, "t": r.t, "wild": r.wild, "wild_shifted": r.wild_shifted,
         "m_size": len(r.candidates),
         "s_size": len(r.counterexamples), "t_size": len(r.test_set), "finetune": r.finetune,
         "cost_hours": {"weak": hours("rating", r.round), "dense": hours("mask", r.round)}}
        for r in run.rounds
    ]
    first = run.rounds[0]
    seconds = {kind: [b.seconds for k, _, b in run.bookings if k == kind] for kind in ("rating", "mask")}
    seconds_per_mask = float(np.mean(seconds["mask"])) if seconds["mask"] else 135.0
    summary = {
        "description": (f"Run on the synthetic world, seed {run.config.seed}: |D| = {run.config.pool_size}, |W| = {run.config.wild_size}, "
                        f"r = {run.config.rounds}, n3 = {run.config.n3}, n4 = {run.config.n4}, |T| = {run.config.test_size}, "
                        f"{run.config.annotators} simulated annotators."),
        "config": dataclasses.asdict(run.config),
        "rounds": rounds,
        "baselines": run.baselines,
        "baselines_wild_shifted": run.baselines_shifted,
        "cost": {
            "weak_hours": sum(seconds["rating"]) / HOUR,
            "dense_hours": sum(seconds["mask"]) / HOUR,
            "dense_all_m_hours": sum(len(r.candidates) for r in run.rounds) * seconds_per_mask / HOUR,
        },
        "precision": {
            "m": _share(first.true_miou[x] < threshold for x in first.candidates),
            "s": _share(first.true_miou[x] < threshold for x in first.counterexamples),
            "random": run.random_precision,
        },
        "zoo": run.zoo_scores,
        "failure_overlap": _overlap(run.wild_failures),
        "shift_coverage": _coverage(run),
        "timings_seconds": run.timings,
    }
    return summary


def _overlap(failures: dict[str, set[int]]) -> dict[str, dict[str, float]]:
    """Jaccard index between the models' failure sets on W."""
    def jaccard(a, b):
        return len(a & b) / len(a | b) if a | b else float("nan")
    return {a: {b: jaccard(fa, fb) for b, fb in failures.items()} for a, fa in failures.items()}


def _coverage(run: RunRecord) -> dict[str, dict[str, float]]:
    """Share of images carrying each shift factor, in D and in the counterexamples S of all rounds."""
    s_ids = [x for r in run.rounds[:-1] for x in r.counterexamples] or run.rounds[0].counterexamples
    pool = Counter(f for shifts, _ in run.pool_meta.values() for f in (shifts or ("none",)))
    chosen = Counter(f for x in s_ids for f in (run.pool_meta[x][0] or ("none",)))
    factors = ["none", *SHIFT_FACTORS]
    return {f: {"pool": pool[f] / max(len(run.pool_meta), 1), "s": chosen[f] / max(len(s_ids), 1)} for f in factors}


def figures(run: RunRecord, summary: dict, gallery_rows: dict[str, list[GalleryRow]]) -> dict[str, bytes]:
    """The report's figures as PNG bytes, by name."""
    rounds = summary["rounds"]
    models, numbers = list(rounds[0]["wild"]), [r["round"] for r in rounds]
    out = {
        "wild_miou_per_round": line_chart({m: [r["wild"][m] for r in rounds] for m in models},
                                          "round (its target)", "mIoU on W", "Held-out wild set W", numbers),
        "test_set_miou_per_round": line_chart({m: [r["t"][m] for r in rounds] for m in models},
                                              "round N", "mIoU on T(N)", "Unbiased test sets", numbers),
        "precision": bar_chart({k: {"share of true failures": v} for k, v in summary["precision"].items()},
                               "share", "Failure-finding precision"),
        "cost": bar_chart({"with weak labelling": {"weak": summary["cost"]["weak_hours"],
                                                   "dense": summary["cost"]["dense_hours"]},
                           "dense labelling all of M": {"dense": summary["cost"]["dense_all_m_hours"]}},
                          "hours", "Annotation cost"),
        "shift_coverage": bar_chart({f: {"D": v["pool"], "S": v["s"]} for f, v in summary["shift_coverage"].items()},
                                    "share of images", "Shift factors in D and in S"),
    }
    if summary["baselines"]:
        out["table2_baselines"] = bar_chart({k: {"W mIoU": v} for k, v in summary["baselines"].items()},
                                            "mIoU on W", "MAD vs entropy vs random (one round)")
    out |= {name: gallery(rows) for name, rows in gallery_rows.items()}
    return out


def fmt(x: float) -> str:
    return "∞" if math.isinf(x) else f"{x:.2f}"
