"""The study's outputs: study.json, index.html and study.md (the table, the aims, the plots) and figures/*.png."""

from __future__ import annotations

import dataclasses
import html
import io
import json
import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from segmad.report.write import img, page, table  # noqa: E402
from segmad.study.grid import BUDGETED, CEILINGS, SELECTORS, StudyConfig  # noqa: E402
from segmad.study.selectors import SECONDS_PER_MASK  # noqa: E402
from segmad.study.stats import budget_to_reach, interval  # noqa: E402

METRICS = ("gain_wild", "gain_wild_shifted", "t0_change", "precision_s", "true_miou_s", "hours", "size",
           "candidates", "ratings", "scenes_s")
COLUMNS = [("W gain", "gain_wild"), ("shifted-W gain", "gain_wild_shifted"), ("T0 change", "t0_change"),
           ("precision of S", "precision_s"), ("hours", "hours"), ("images in S", "size"), ("images in M", "candidates")]


def summarize(config: StudyConfig, rows: list[dict], precision: dict[int, dict[str, list[float]]],
              timings: dict[str, float], workers: int, on_w: dict | None = None) -> dict:
    """study.json's content: per (selector, budget) means and 95% intervals over world seeds, precision@k, aims.

    `on_w`: {"seeds": {world seed: `shared.scores_on_w`'s record}, "t0_zoo": {arch: T0 mIoU of its checkpoint}},
    the never fine-tuned competitors' scores on W that each cell's fine-tuned target is held against.
    """
    if config.pool_scenes:  # the redundant world: D's image i shows scene i mod pool_scenes (world.generate)
        rows = [r | {"scenes_s": float(len({i % config.pool_scenes for i in r["chosen"]}))} for r in rows]
    per_seed, wild, best = _per_seed(rows), _wild_per_seed(rows), _best_competitor_per_seed(on_w)
    table_rows = []
    for selector in SELECTORS:
        for budget in sorted({b for s, b in per_seed if s == selector}):
            seeds = per_seed[selector, budget]
            table_rows.append({"selector": selector, "budget": budget, "seeds": sorted(seeds),
                               **{m: interval([v[m] for v in seeds.values()]) for m in METRICS},
                               "overtakes_competitors_on_w": _overtakes(wild[selector, budget], best)})
    curves = {}
    for name in dict.fromkeys(n for by_name in precision.values() for n in by_name):
        runs = [by_name[name] for by_name in precision.values() if by_name.get(name)]
        k = min(map(len, runs)) if runs else 0
        stats = [interval([r[i] for r in runs]) for i in range(k)]
        curves[name] = {key: [round(s[key], 4) for s in stats] for key in ("mean", "lo", "hi")}
    doc = {"config": dataclasses.asdict(config), "workers": workers, "timings_seconds": timings,
           "definitions": {
               "true_failure": f"an in-domain pool image whose v0 target mIoU against its true mask is below "
                               f"{config.failure_threshold}",
               "gain": "fine-tuned target's dataset mIoU minus the v0 target's, on W (and on W's shifted "
                       "in-domain images); T0 change likewise on T0",
               "precision_at_k": "share of true failures among the first k of a selector's ranking at n4 = "
                                 f"{config.ablation_budget} (M at that budget's n3), k = 1..|M|",
               "hours": "the paper's accounting: 7 s per weak rating + 135 s per mask of S (T's masks apart)",
               "interval": "mean over world seeds (fine-tuning seeds averaged first) ± Student's t 95% half-width",
               "competitors_on_w": "each competitor's (never fine-tuned) and the v0 target's dataset mIoU on W "
                                   "and on W's shifted in-domain images; T0 from the zoo checkpoint's metadata",
               "overtakes_competitors_on_w": "world seeds on which the fine-tuned target's W mIoU (fine-tuning "
                                             "seeds averaged) exceeds every competitor's W mIoU on that seed"},
           "rows": table_rows, "precision_at_k": curves, "competitors_on_w": competitors_on_w(on_w),
           "cells": [{k: v for k, v in r.items() if k != "chosen"} for r in rows]}  # picks stay in results.jsonl
    doc["paired"] = paired_differences(per_seed)
    doc["definitions"]["paired"] = ("MAD's gain minus another budgeted selector's, seed by seed at the same budget "
                                    "(fine-tuning seeds averaged), mean ± Student's t 95% half-width")
    doc["aims"] = aims(config, doc, per_seed)
    return doc


def paired_differences(per_seed: dict) -> list[dict]:
    """MAD against entropy and random at every budget both have: paired seed-by-seed differences of the W and
    shifted-W gains ({"budget", "other", "gain_wild", "gain_wild_shifted"}, each an interval)."""
    out = []
    for budget in sorted(b for s, b in per_seed if s == "mad"):
        for other in ("entropy", "random"):
            mad, them = per_seed.get(("mad", budget), {}), per_seed.get((other, budget), {})
            common = sorted(set(mad) & set(them))
            if common:
                out.append({"budget": budget, "other": other, **{m: interval([mad[s][m] - them[s][m] for s in common])
                                                                 for m in ("gain_wild", "gain_wild_shifted")}})
    return out


def paired_table(doc: dict) -> tuple[list[str], list[list[str]]]:
    """The paired differences as a table: an interval that excludes 0 is marked."""
    def cell(stat: dict) -> str:
        beyond = stat["n"] > 1 and not math.isnan(stat["lo"]) and (stat["lo"] > 0 or stat["hi"] < 0)
        return _cell(stat, 4) + (" *" if beyond else "")

    return (["n4", "MAD minus", "W gain", "shifted-W gain"],
            [[str(p["budget"]), p["other"], cell(p["gain_wild"]), cell(p["gain_wild_shifted"])]
             for p in doc.get("paired", [])])


def _per_seed(rows: list[dict]) -> dict[tuple[str, int], dict[int, dict[str, float]]]:
    """(selector, budget) -> world seed -> each metric averaged over the fine-tuning seeds."""
    grouped: dict = defaultdict(lambda: defaultdict(list))
    for r in rows:
        grouped[r["selector"], r["budget"]][r["seed"]].append(r)
    return {key: {seed: {m: float(np.nanmean([r[m] for r in rs])) if any(_finite(r.get(m)) for r in rs) else math.nan
                         for m in METRICS} for seed, rs in seeds.items()}
            for key, seeds in grouped.items()}


def _wild_per_seed(rows: list[dict]) -> dict[tuple[str, int], dict[int, float]]:
    """(selector, budget) -> world seed -> the fine-tuned target's W mIoU averaged over the fine-tuning seeds."""
    grouped: dict = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if _finite(r.get("wild")):
            grouped[r["selector"], r["budget"]][r["seed"]].append(r["wild"])
    return defaultdict(dict, {key: {seed: float(np.mean(ws)) for seed, ws in seeds.items()}
                              for key, seeds in grouped.items()})


def _best_competitor_per_seed(on_w: dict | None) -> dict[int, float]:
    """World seed -> the highest W mIoU among the competitors on that seed (seeds without competitors left out)."""
    seeds = (on_w or {}).get("seeds", {})
    return {int(seed): max(c["wild"] for c in r["competitors"].values()) for seed, r in seeds.items()
            if r["competitors"]}


def _overtakes(wild: dict[int, float], best: dict[int, float]) -> dict:
    """{"overtaken_on", "seeds"}: of the seeds with both, on how many the fine-tuned target beats every competitor."""
    common = sorted(set(wild) & set(best))
    return {"overtaken_on": sum(wild[s] > best[s] for s in common), "seeds": len(common)}


def competitors_on_w(on_w: dict | None) -> dict:
    """{"seeds", "v0_target": {"arch", "wild", "wild_shifted", "t0_zoo"}, "competitors": {arch: {"wild",
    "wild_shifted", "t0_zoo"}}}: mean and 95% interval over world seeds; empty without scores."""
    seeds = (on_w or {}).get("seeds", {})
    if not seeds:
        return {}
    records, t0_zoo = [seeds[s] for s in sorted(seeds)], on_w.get("t0_zoo", {})
    target = records[0]["target"]
    block = {"seeds": sorted(int(s) for s in seeds),
             "v0_target": {"arch": target, **{m: interval([r["v0"][m] for r in records]) for m in ("wild", "wild_shifted")},
                           "t0_zoo": t0_zoo.get(target)},
             "competitors": {}}
    for arch in dict.fromkeys(a for r in records for a in r["competitors"]):
        scores = [r["competitors"][arch] for r in records if arch in r["competitors"]]
        block["competitors"][arch] = {m: interval([c[m] for c in scores]) for m in ("wild", "wild_shifted")}
        block["competitors"][arch]["t0_zoo"] = t0_zoo.get(arch)
    return block


def _finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _row(doc: dict, selector: str, budget: int) -> dict | None:
    return next((r for r in doc["rows"] if r["selector"] == selector and r["budget"] == budget), None)


def aims(config: StudyConfig, doc: dict, per_seed: dict) -> list[dict]:
    """Issue 13's aims, each measured: {"claim", "holds", "evidence"} (holds is None where the grid lacks the cells)."""
    n4, out = config.ablation_budget, []

    def paired(a: str, b: str) -> dict:
        x, y = per_seed.get((a, n4), {}), per_seed.get((b, n4), {})
        return interval([x[s]["gain_wild"] - y[s]["gain_wild"] for s in sorted(set(x) & set(y))])

    diffs = {b: paired("mad", b) for b in ("entropy", "random")}
    known = all(d["n"] >= 2 for d in diffs.values())
    out.append({"claim": f"MAD's W gain above entropy's and random's at n4 = {n4}, beyond the 95% interval",
                "holds": all(d["lo"] > 0 for d in diffs.values()) if known else None,
                "evidence": "; ".join(f"mad − {b}: {_pm(d)} (paired over {d['n']} seeds)" for b, d in diffs.items())})
    mad, best = doc["precision_at_k"].get("mad"), doc["precision_at_k"].get("worst")
    if mad and best:
        k = min(n4, len(mad["mean"]), len(best["mean"]))
        ratios = [m / w if w else 1.0 for m, w in zip(mad["mean"][:k], best["mean"][:k])]
        worst_k = int(np.argmin(ratios)) + 1
        out.append({"claim": f"MAD's precision@k within 10% of worst's for every k ≤ {n4}", "holds": min(ratios) >= 0.9,
                    "evidence": f"lowest ratio {min(ratios):.2f} at k = {worst_k} (mad {mad['mean'][worst_k - 1]:.2f}, "
                                f"worst {best['mean'][worst_k - 1]:.2f}); at k = {k}: mad {mad['mean'][k - 1]:.2f}, "
                                f"worst {best['mean'][k - 1]:.2f}"})
    ceiling = _row(doc, "ceiling-pool", 0)
    if ceiling and ceiling["gain_wild"]["n"]:
        level = 0.8 * ceiling["gain_wild"]["mean"]
        reach = {}
        for name in ("mad", "random"):
            rows = [r for r in doc["rows"] if r["selector"] == name]
            reach[name] = budget_to_reach([r["budget"] for r in rows], [r["gain_wild"]["mean"] for r in rows], level)
        top = max(config.budgets)
        # Random not reaching the level within the grid still bounds its need from below by the top budget.
        need = reach["random"] if reach["random"] is not None else top
        holds = reach["mad"] is not None and 3 * reach["mad"] <= need
        out.append({"claim": "label efficiency: MAD needs at most a third of random's budget to reach 80% of the "
                             "whole-pool ceiling's W gain",
                    "holds": holds,
                    "evidence": f"80% of the ceiling's gain {ceiling['gain_wild']['mean']:+.4f} is {level:+.4f}; "
                                f"MAD reaches it at n4 ≈ {_budget(reach['mad'], top)}, random at "
                                f"n4 ≈ {_budget(reach['random'], top)}"})
    for name, label in (("mad", "three full raters"), ("mad-adaptive", "adaptive rating")):
        row = _row(doc, name, n4)
        if row and row["candidates"]["n"]:
            dense = row["candidates"]["mean"] * SECONDS_PER_MASK / 3600
            ratio = dense / row["hours"]["mean"]
            out.append({"claim": f"a round with {label} at least 8× cheaper than dense-labelling all of M",
                        "holds": ratio >= 8,
                        "evidence": f"{row['hours']['mean']:.2f} h (ratings of M + masks of S) vs {dense:.2f} h for "
                                    f"|M| = {row['candidates']['mean']:.0f} masks: {ratio:.1f}×; T's "
                                    f"{config.test_size} masks add {config.test_size * SECONDS_PER_MASK / 3600:.2f} h to both"})
    full, adaptive = _row(doc, "mad", n4), _row(doc, "mad-adaptive", n4)
    if full and adaptive:
        a, f = adaptive["precision_s"]["mean"], full["precision_s"]["mean"]
        out.append({"claim": "adaptive rating's S as good as three full raters' (precision of S within 0.02)",
                    "holds": a >= f - 0.02,
                    "evidence": f"precision of S {a:.3f} vs {f:.3f}; W gain {_pm(adaptive['gain_wild'])} vs "
                                f"{_pm(full['gain_wild'])}; hours {adaptive['hours']['mean']:.2f} vs {full['hours']['mean']:.2f}"})
    out.append(overtake_aim(doc))
    return out


def overtake_aim(doc: dict) -> dict:
    """Issue 13's "when does the target overtake every competitor": along the budget axis, on W. Holds when at some
    budget MAD's fine-tuned target beats every competitor on every world seed (None without MAD cells or competitors)."""
    claim = "the fine-tuned target overtakes every competitor on W"
    block = doc.get("competitors_on_w") or {}
    shown = [r for r in doc["rows"] if r["selector"] == "mad" or r["selector"] in CEILINGS]
    shown = [r for r in shown if r["overtakes_competitors_on_w"]["seeds"]]
    mad = [r for r in shown if r["selector"] == "mad"]
    if not block.get("competitors") or not mad:
        return {"claim": claim, "holds": None, "evidence": "no MAD cells or no competitor scores on W yet"}
    name, best = max(block["competitors"].items(), key=lambda item: item[1]["wild"]["mean"])
    at = "; ".join(f"{r['selector']}{'' if r['selector'] in CEILINGS else ' ' + str(r['budget'])}: "
                   f"{r['overtakes_competitors_on_w']['overtaken_on']}/{r['overtakes_competitors_on_w']['seeds']}"
                   for r in shown)
    return {"claim": claim,
            "holds": any(r["overtakes_competitors_on_w"]["overtaken_on"] == r["overtakes_competitors_on_w"]["seeds"]
                         for r in mad),
            "evidence": f"v0 target {block['v0_target']['wild']['mean']:.3f} vs best competitor {name} "
                        f"{best['wild']['mean']:.3f} (W mIoU, mean over seeds); overtakes on k/n seeds at: {at}"}


def _pm(stat: dict) -> str:
    if math.isnan(stat["lo"]):
        return f"{stat['mean']:+.4f}"
    return f"{stat['mean']:+.4f} ± {(stat['hi'] - stat['lo']) / 2:.4f}"


def _budget(value: float | None, top: int) -> str:
    return f"> {top} (not within the grid)" if value is None else f"{value:.0f}"


# -- figures ---------------------------------------------------------------------------------------

def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def gain_figure(doc: dict, metric: str = "gain_wild", ylabel: str = "W mIoU gain over v0") -> bytes:
    """Gain vs budget per selector with 95% intervals; ablations as points; ceilings as horizontal bands."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for selector in SELECTORS:
        rows = [r for r in doc["rows"] if r["selector"] == selector and r[metric]["n"]]
        if not rows or selector in CEILINGS:
            continue
        x = np.array([r["budget"] for r in rows], dtype=float)
        y = np.array([r[metric]["mean"] for r in rows])
        err = np.array([[r[metric]["mean"] - r[metric]["lo"], r[metric]["hi"] - r[metric]["mean"]] for r in rows]).T
        err = np.nan_to_num(err)
        style = dict(marker="o", capsize=3, linewidth=2 if selector == "mad" else 1.2) if selector in BUDGETED \
            else dict(marker="s", capsize=3, linestyle="none", markersize=5)
        ax.errorbar(x * (1.0 if selector in BUDGETED else 1.0 + 0.04 * SELECTORS.index(selector)), y, yerr=err,
                    label=selector, **style)
    for selector, colour in zip(CEILINGS, ("0.35", "0.6")):
        row = _row(doc, selector, 0)
        if row and row[metric]["n"]:
            ax.axhline(row[metric]["mean"], color=colour, linestyle="--", linewidth=1,
                       label=f"{selector} (|S| ≈ {row['size']['mean']:.0f})")
            if not math.isnan(row[metric]["lo"]):
                ax.axhspan(row[metric]["lo"], row[metric]["hi"], color=colour, alpha=0.12)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xscale("log")
    budgets = sorted({r["budget"] for r in doc["rows"] if r["budget"]})
    ax.set_xticks(budgets, [str(b) for b in budgets])  # the grid's budgets, not log-axis powers
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set(xlabel="budget n4 (images labelled densely)", ylabel=ylabel,
           title="Gain vs budget (mean over world seeds, 95% t-interval)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _png(fig)


def precision_figure(doc: dict, n4: int) -> bytes:
    """precision@k per selector with 95% bands over world seeds."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, curve in doc["precision_at_k"].items():
        if not curve["mean"]:
            continue
        k = np.arange(1, len(curve["mean"]) + 1)
        line, = ax.plot(k, curve["mean"], label=name, linewidth=2 if name == "mad" else 1.1)
        lo, hi = np.array(curve["lo"], dtype=float), np.array(curve["hi"], dtype=float)
        if not np.isnan(lo).all():
            ax.fill_between(k, lo, hi, color=line.get_color(), alpha=0.12)
    ax.axvline(n4, color="black", linewidth=0.6, linestyle=":")
    ax.set_xscale("log")
    ax.set(xlabel="k (first k of the selector's ranking)", ylabel="share of true failures",
           title=f"precision@k, k = 1..|M| (M at n4 = {n4})", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _png(fig)


def figures(doc: dict) -> dict[str, bytes]:
    """The study's figures as PNG bytes by name."""
    n4 = doc["config"]["ablation_budget"]
    return {"gain_vs_budget": gain_figure(doc),
            "shifted_gain_vs_budget": gain_figure(doc, "gain_wild_shifted", "shifted-W mIoU gain over v0"),
            "precision_at_k": precision_figure(doc, n4)}


# -- pages -----------------------------------------------------------------------------------------

def _cell(stat: dict, digits: int) -> str:
    if stat["n"] == 0 or math.isnan(stat["mean"]):
        return "–"
    if math.isnan(stat["lo"]):
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f} ± {(stat['hi'] - stat['lo']) / 2:.{digits}f}"


def table_rows(doc: dict) -> tuple[list[str], list[list[str]]]:
    """The study table: one row per (selector, budget), 'mean ± 95% half-width' cells, and the seeds on which
    the fine-tuned target beats every competitor on W."""
    columns = COLUMNS + ([("distinct scenes in S", "scenes_s")]
                         if any(r.get("scenes_s", {}).get("n") for r in doc["rows"]) else [])
    header = ["selector", "n4", "seeds"] + [name for name, _ in columns] + ["W > every competitor"]
    rows = []
    for r in doc["rows"]:
        digits = {"hours": 2, "size": 0, "candidates": 0, "precision_s": 3, "scenes_s": 0}
        over = r.get("overtakes_competitors_on_w") or {"seeds": 0}
        rows.append([r["selector"], "all" if r["budget"] == 0 else str(r["budget"]), str(len(r["seeds"]))]
                    + [_cell(r[m], digits.get(m, 4)) for _, m in columns]
                    + [f"{over['overtaken_on']}/{over['seeds']}" if over["seeds"] else "–"])
    return header, rows


def competitor_rows(doc: dict) -> tuple[list[str], list[list[str]]]:
    """The models on W: the v0 target, then each competitor (never fine-tuned), 'mean ± 95% half-width'."""
    header = ["model", "role", "W mIoU", "shifted-W mIoU", "T0 mIoU (zoo checkpoint)"]
    block = doc.get("competitors_on_w") or {}
    if not block:
        return header, []
    models = [(block["v0_target"]["arch"], "v0 target", block["v0_target"])]
    models += [(arch, "competitor", scores) for arch, scores in block["competitors"].items()]
    return header, [[arch, role, _cell(s["wild"], 4), _cell(s["wild_shifted"], 4),
                     "–" if s["t0_zoo"] is None else f"{s['t0_zoo']:.4f}"] for arch, role, s in models]


def describe(doc: dict) -> str:
    """One paragraph: what grid this was and how long it took."""
    c, t = doc["config"], doc["timings_seconds"]
    steps = "" if c["finetune_max_steps"] is None else f" capped at {c['finetune_max_steps']} steps per lr"
    steps += "" if c.get("lr") is None else f", one lr {c['lr']:g}"
    return (f"World {c['world']!r}, |D| = {c['pool_size']}, |W| = {c['wild_size']}, world seeds {list(c['seeds'])}, "
            f"budgets {list(c['budgets'])} (ablations at {c['ablation_budget']}), fine-tuning seeds "
            f"{list(c['finetune_seeds'])}, preset {c['finetune']!r}{steps}, "
            f"{c['annotators']} simulated raters; {len(doc['cells'])} cells on {doc['workers']} worker(s); "
            f"this run took {sum(t.values()) / 60:.1f} min.")


def render_html(doc: dict, pngs: dict[str, bytes]) -> str:
    """The study page: description, aims, table, figures."""
    header, rows = table_rows(doc)
    sections = ["<h1>Does MAD beat cheaper selections?</h1>", f"<p>{html.escape(describe(doc))}</p>",
                "<h2>The issue's aims, measured</h2><ul>" + "".join(
                    f"<li class='{'ok' if a['holds'] else 'no'}'>{mark(a['holds'])} {html.escape(a['claim'])} — "
                    f"{html.escape(a['evidence'])}</li>" for a in doc["aims"]) + "</ul>",
                "<h2>Per selector and budget (mean ± 95% half-width over world seeds)</h2>", table(header, rows),
                "<h2>MAD against entropy and random, seed by seed (* : the 95% interval excludes 0)</h2>",
                table(*paired_table(doc)),
                "<h2>The zoo on W (competitors are never fine-tuned)</h2>", table(*competitor_rows(doc)),
                "<h2>Definitions</h2><ul>" + "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>"
                                                     for k, v in doc["definitions"].items()) + "</ul>"]
    sections += [f"<h2>{html.escape(name.replace('_', ' '))}</h2>{img(png, name)}" for name, png in pngs.items()]
    return page("segmad study", sections)


def render_markdown(doc: dict, figure_dir: str = "figures") -> str:
    """The same as markdown, figures linked from `figure_dir` (for the README)."""
    lines = [describe(doc), "", *_markdown_table(*table_rows(doc))]
    for title, (header, rows) in (("MAD against entropy and random, seed by seed (* : the 95% interval excludes 0):",
                                   paired_table(doc)),
                                  ("The zoo on W (competitors are never fine-tuned):", competitor_rows(doc))):
        if rows:
            lines += ["", title, "", *_markdown_table(header, rows)]
    lines += ["", *(f"- {mark(a['holds'])} {a['claim']}: {a['evidence']}" for a in doc["aims"]), ""]
    lines += [f"![{name}]({figure_dir}/{name}.png)" for name in ("gain_vs_budget", "precision_at_k",
                                                                 "shifted_gain_vs_budget")]
    return "\n".join(lines) + "\n"


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table's lines."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(row) + " |" for row in rows)]


def mark(holds) -> str:
    return "?" if holds is None else ("✔" if holds else "✘")


def write(out_dir: Path, doc: dict) -> Path:
    """study.json, figures/*.png, index.html and study.md into out_dir; index.html's path."""
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    pngs = figures(doc)
    for name, png in pngs.items():
        (out / "figures" / f"{name}.png").write_bytes(png)
    (out / "study.json").write_text(json.dumps(doc, indent=1, allow_nan=True))
    (out / "study.md").write_text(render_markdown(doc))
    index = out / "index.html"
    index.write_text(render_html(doc, pngs))
    return index
