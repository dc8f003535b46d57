"""Write a run's report folder: summary.json, figures/*.png and index.html (figures inline)."""

from __future__ import annotations

import base64
import html
import json
import math
import os
from pathlib import Path
from typing import Mapping

from segmad.report.checks import conclusions


STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
         "td:first-child,th:first-child{text-align:left}li.ok{color:#060}li.no{color:#a00}img{max-width:100%}")


def cell(value) -> str:
    """A table cell's escaped text: floats to 4 places, NaN and None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.4f}"
    return html.escape(str(value))


def table(header: list[str], rows: list[list]) -> str:
    """An HTML table with escaped header and cells."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def img(png: bytes, alt: str) -> str:
    """A PNG inlined as a data URI, so the page opens from disk on its own."""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def page(title: str, sections: list[str]) -> str:
    """A self-contained HTML page (no script) in the report's style."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(sections)}</body></html>")


def _table1(summary: dict) -> str:
    rounds = summary["rounds"]
    models = list(rounds[0]["t0"])
    header = ["model"] + [f"round {r['round']}: {s}" for r in rounds for s in ("T0", f"T({r['round']})")]
    rows = [[m] + [v for r in rounds for v in (r["t0"][m], r["t"].get(m, float("nan")))] for m in models]
    return table(header, rows)


def render_html(summary: dict, figures: Mapping[str, bytes], study: str | None = None) -> str:
    """The whole report as one self-contained HTML page; `study`, the relative link to a study's page, if any."""
    rounds = summary["rounds"]
    wild_rows = [[m] + [r["wild"][m] for r in rounds] for m in rounds[0]["wild"]]
    sections = [
        "<h1>segmad run report</h1>",
        f"<p>{html.escape(summary.get('description', ''))}</p>",
    ]
    if study:
        sections.append(f"<p>Does MAD beat cheaper selections? See <a href='{html.escape(study)}'>the study</a> "
                        "(selectors × budgets × seeds, `segmad study`).</p>")
    sections += [
        "<h2>Conclusions (measured, not assumed)</h2><ul>"
        + "".join(
            f"<li class='{'ok' if c['holds'] else 'no'}'>{'✔' if c['holds'] else '✘'} {html.escape(c['claim'])}"
            f" — {html.escape(c['evidence'])}</li>"
            for c in conclusions(summary)
        )
        + "</ul>",
    ]
    if "zoo" in summary:
        zoo = summary["zoo"]
        sections.append("<h2>The zoo and its generalisation gap</h2>")
        sections.append(table(["model", "arch", "T0 mIoU", "W mIoU", "gap"],
                               [[m, z.get("arch", ""), z["t0"], z["wild"], z["t0"] - z["wild"]] for m, z in zoo.items()]))
    if "failure_overlap" in summary:
        overlap = summary["failure_overlap"]
        names = list(overlap)
        sections.append("<p>Jaccard overlap of the models' failure sets on W (per-image mIoU &lt; 0.5):</p>")
        sections.append(table([""] + names, [[a] + [overlap[a][b] for b in names] for a in names]))
    sections += [
        "<h2>Table 1: mIoU on T0 and on the unbiased test sets T(i)</h2>", _table1(summary),
        "<h2>mIoU on the held-out wild set W per round</h2>",
        table(["model"] + [f"round {r['round']}" for r in rounds], wild_rows),
        "<p>…and on the shifted in-domain images of W only (where the failures are):</p>",
        table(["model"] + [f"round {r['round']}" for r in rounds],
               [[m] + [r.get("wild_shifted", {}).get(m, float("nan")) for r in rounds] for m in rounds[0]["wild"]]),
        "<p>Set sizes: " + ", ".join(f"round {r['round']}: |M|={r['m_size']}, |S|={r['s_size']}, |T|={r['t_size']}" for r in rounds) + "</p>",
    ]
    if "baselines" in summary:
        sections += ["<h2>Table 2: MAD vs entropy vs random (one round, same labelling budget), mIoU on W</h2>",
                     table(["method", "W mIoU", "shifted W mIoU"],
                            [[k, v, summary.get("baselines_wild_shifted", {}).get(k, float("nan"))]
                             for k, v in summary["baselines"].items()])]
    if "cost" in summary:
        sections += ["<h2>Annotation cost (hours)</h2>", table(["what", "hours"], [[k, v] for k, v in summary["cost"].items()])]
        if all("cost_hours" in r for r in rounds):
            sections += ["<p>Per round, from the recorded times:</p>",
                         table(["round", "weak rating", "dense labelling"],
                                [[r["round"], r["cost_hours"]["weak"], r["cost_hours"]["dense"]] for r in rounds])]
    lineage, parent = [], "v0"
    for r in rounds:
        if r.get("finetune"):
            f = r["finetune"]
            lineage.append([f"v{r['round']}", parent, f.get("counterexamples", ""),
                            ", ".join(map(str, f.get("counterexample_rounds", []))), f.get("lr", ""),
                            f.get("t0_miou", float("nan"))])
            parent = f"v{r['round']}"
    if lineage:
        sections += ["<h2>Lineage of the target's versions</h2>",
                     table(["version", "fine-tuned from", "|S ∪ earlier S|", "S of rounds", "chosen lr",
                             "T0 mIoU"], lineage)]
    if "precision" in summary:
        sections += ["<h2>Failure-finding precision (share with true target mIoU &lt; 0.5)</h2>",
                     table(["set", "precision"], [[k, v] for k, v in summary["precision"].items()])]
    if "shift_coverage" in summary:
        cov = summary["shift_coverage"]
        sections += ["<h2>Shift factors: share of images in the pool D vs in S</h2>",
                     table(["factor", "D", "S"], [[f, v["pool"], v["s"]] for f, v in cov.items()])]
    sections += [f"<h2>{html.escape(name.replace('_', ' '))}</h2>{img(png, name)}" for name, png in figures.items() if png]
    return page("segmad report", sections)


def write_report(out_dir: str | os.PathLike, summary: dict, figures: Mapping[str, bytes]) -> Path:
    """Write summary.json, figures/<name>.png and index.html into `out_dir`; returns index.html's path.

    The page links the study (`segmad study --out <out_dir>/study`, what `make study` writes) when one is there.
    """
    study = "study/index.html" if (Path(out_dir) / "study" / "study.json").exists() else None
    return write_folder(out_dir, summary, figures, render_html(summary, figures, study))


def write_folder(out_dir: str | os.PathLike, summary: dict, figures: Mapping[str, bytes], index_html: str) -> Path:
    """A report folder: summary.json, figures/<name>.png and the page as index.html; index.html's path."""
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for name, png in figures.items():
        if png:
            (out / "figures" / f"{name}.png").write_bytes(png)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=True, default=float))
    index = out / "index.html"
    index.write_text(index_html)
    return index
