"""The catalog-only rounds report: summary.json, PNG figures and one self-contained page (no script, text escaped)."""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Mapping

from segmad.report.figures import bar_chart
from segmad.report.rounds_report import MOS_BINS
from segmad.report.write import img, page, table, write_folder


def rounds_figures(summary: dict) -> dict[str, bytes]:
    """PNG charts: every model's mIoU on each round's T(i), and the annotation hours per round."""
    rounds = summary["rounds"]
    figures = {}
    # Bars keyed by model name ('$' escaped: matplotlib would read it as mathtext).
    tests = {f"T({r['round']})": {key.rsplit("@", 1)[0].replace("$", r"\$"): v for key, v in r["t"].items()}
             for r in rounds if r["t"]}
    if tests:
        figures["miou_on_test_sets"] = bar_chart(tests, "mIoU", "mIoU on each round's test set T(i)")
    if any(sum(r["hours"].values()) for r in rounds):
        figures["annotation_hours"] = bar_chart(
            {f"round {r['round']}": {"weak rating": r["hours"]["weak"], "dense labelling": r["hours"]["dense"]}
             for r in rounds}, "hours", "Annotation hours per round (recorded)")
    return figures


def _miou_table(rounds: list[dict]) -> str:
    models = list(dict.fromkeys(m for r in rounds for split in ("t0", "t") for m in r[split]))
    header = ["model"] + [f"round {r['round']}: {s}" for r in rounds for s in ("T0", f"T({r['round']})")]
    rows = [[m] + [r[s].get(m, math.nan) for r in rounds for s in ("t0", "t")] for m in models]
    return table(header, rows)


def _per_class(r: dict) -> str:
    rows = [e for e in r["evaluations"] if e["split"] != "t0" and isinstance(e["per_class"], dict)]
    if not rows:
        return ""
    names = list(rows[0]["per_class"])
    return (f"<h3>Round {r['round']}: IoU per class on T({r['round']})</h3>"
            + table(["model"] + names, [[f"{e['model']}@{e['version']}"] + [e["per_class"][n] for n in names]
                                        for e in rows]))


def _annotators(r: dict) -> str:
    if not r["annotators"]:
        return ""
    return (f"<h3>Round {r['round']}</h3>"
            + table(["annotator", "ratings", "median s / rating", "masks", "median s / mask", "reviews", "hours"],
                    [[a["annotator"], a["ratings"], a["median_seconds_per_rating"], a["masks"],
                      a["median_seconds_per_mask"], a["reviews"], a["hours"]] for a in r["annotators"]]))


def _size(n: int | None) -> str:
    return "not stored" if n is None else str(n)


def render_rounds_html(summary: dict, figures: Mapping[str, bytes]) -> str:
    """The whole rounds report as one page."""
    rounds, hours = summary["rounds"], summary["hours"]
    sections = [
        "<h1>segmad rounds report</h1>",
        f"<p>{html.escape(summary['description'])}</p>",
        f"<p>Annotation: {hours['weak']:.2f} h rating, {hours['dense']:.2f} h dense labelling, "
        f"{hours['total']:.2f} h in all (from the recorded times). |S0| = {_size(summary['sets']['s0'])}, "
        f"|T0| = {_size(summary['sets']['t0'])}.</p>",
        "<h2>Rounds</h2>",
        table(["round", "state", "target", "trained", "|M|", "|S|", "|T|", "vetoed", "rating h", "labelling h",
               "agreement α"],
              [[r["round"], r["state"], f"{r['target']}@{r['target_version']}", r["trained_version"], r["m_size"],
                r["s_size"], r["t_size"], r["vetoed"], r["hours"]["weak"], r["hours"]["dense"], r["agreement"]]
               for r in rounds]),
        "<p>Agreement: Krippendorff's ordinal α over the 1–5 ratings of M (vetoes left out).</p>",
        "<h2>Mean opinion scores of M</h2>",
        table(["round", *MOS_BINS], [[r["round"], *(r["mos_histogram"] or dict.fromkeys(MOS_BINS)).values()]
                                     for r in rounds]),
        "<p>Bin k holds the images whose MOS rounds half up to k; vetoed: rated out of domain.</p>",
        "<h2>mIoU on T0 and on the unbiased test sets T(i)</h2>", _miou_table(rounds),
        *(_per_class(r) for r in rounds),
        "<h2>Annotators</h2>", *(_annotators(r) for r in rounds),
        "<h2>Lineage of the target's versions</h2>",
        table(["version", "fine-tuned from", "round", "|S ∪ earlier S|", "S of rounds", "chosen lr", "T0 mIoU",
               "default"],
              [[f"{e['model']}@{e['version']}", e["parent"], e["round"], e["counterexamples"],
                ", ".join(map(str, e["counterexample_rounds"])), e["lr"], e["t0_miou"], "yes" if e["default"] else ""]
               for e in summary["lineage"]]),
    ]
    sections += [f"<h2>{html.escape(name.replace('_', ' '))}</h2>{img(png, name)}" for name, png in figures.items()]
    return page("segmad rounds report", sections)


def write_rounds_report(out_dir: str | os.PathLike, summary: dict) -> Path:
    """Write summary.json, figures/*.png and index.html (figures inline) into `out_dir`; index.html's path."""
    figures = rounds_figures(summary)
    return write_folder(out_dir, summary, figures, render_rounds_html(summary, figures))
