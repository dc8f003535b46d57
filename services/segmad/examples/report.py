"""The worked example's report: the round's top candidates, the target's and a competitor's map side by side.

For each image of M (by its largest d over the heaps it is in): the photograph, the target's map
and the competitor's that disagrees most, as overlays, with d; plus, over the whole pool, each
competitor's mean d to the target and how often each model finds a person. HTML (self-contained
but for the figures beside it, every name escaped), Markdown and summary.json.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from PIL import Image

from segmad.codec import decode_png
from segmad.mad import discrepancy
from segmad.pipeline import stages
from segmad.pipeline.keys import prediction_key
from segmad.rounds import control

PANEL_WIDTH = 320
PERSON_RGB = np.array([255, 40, 40], np.float32)


def overlay(image: np.ndarray, label_map: np.ndarray, width: int = PANEL_WIDTH) -> Image.Image:
    """The photograph with the person pixels tinted red (half opaque), scaled to `width`."""
    tinted = image.astype(np.float32)
    person = label_map == 1
    tinted[person] = 0.5 * tinted[person] + 0.5 * PERSON_RGB
    picture = Image.fromarray(tinted.astype(np.uint8))
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    return picture.resize((width, height), Image.BILINEAR)


def _map(ports, model: str, version: str, image_id: str) -> np.ndarray:
    return decode_png(ports.blobs.get(prediction_key(model, version, image_id)))


def pool_figures(ports, round_row, pool: list[str]) -> dict:
    """Per model: the share of photos with any person pixel; per competitor: mean and median d to the target."""
    target, version = round_row.target, round_row.target_version
    competitors = list(round_row.settings.competitors)
    found = {name: [] for name in [target] + [c for c, _ in competitors]}
    d = {name: [] for name, _ in competitors}
    for image_id in pool:  # one image's maps at a time: photos may be large
        ours = _map(ports, target, version, image_id)
        found[target].append((ours == 1).any())
        for name, v in competitors:
            theirs = _map(ports, name, v, image_id)
            found[name].append((theirs == 1).any())
            d[name].append(discrepancy(ours, theirs))
    return {"with_person": {name: float(np.mean(hits)) for name, hits in found.items()},
            "d_to_target": {name: {"mean": float(np.mean(v)), "median": float(np.median(v))} for name, v in d.items()}}


def write_report(ports, round_: int, out: Path, top: int = 12) -> dict:
    """Figures and pages for the round's candidates under `out`; the summary's fields."""
    row = ports.catalog.round(round_)
    doc = control.candidates(ports, round_)
    best: dict[str, tuple[float, str, int]] = {}
    for heap in doc["heaps"]:
        for member in heap["members"]:
            if member["image"] not in best or member["distance"] > best[member["image"]][0]:
                best[member["image"]] = (member["distance"], heap["competitor"], heap["class"])
    versions = dict(row.settings.competitors)
    ranked = sorted(best.items(), key=lambda item: -item[1][0])[:top]
    images = ports.catalog.images_by_id([i for i, _ in ranked])
    pixels = dict(zip([i for i, _ in ranked], stages.read_images(ports, [i for i, _ in ranked])))
    (out / "figures").mkdir(parents=True, exist_ok=True)
    rows = []
    for rank, (image_id, (d, competitor, _)) in enumerate(ranked, 1):
        image = pixels[image_id]
        theirs = _map(ports, competitor, versions[competitor], image_id)
        ours = _map(ports, row.target, row.target_version, image_id)
        files = {}
        for role, label_map in (("target", ours), ("competitor", theirs)):
            files[f"{role}_png"] = f"figures/{rank:02d}-{role}.png"
            overlay(image, label_map).save(out / files[f"{role}_png"])
        rows.append({"rank": rank, "image": image_id, "source": Path(images[image_id].source).name,
                     "size": [int(image.shape[1]), int(image.shape[0])], "competitor": competitor, "d": round(d, 4),
                     "person_target": round(float((ours == 1).mean()), 4),
                     "person_competitor": round(float((theirs == 1).mean()), 4), **files})
    figures = pool_figures(ports, row, sorted(set(ports.catalog.image_ids())))
    result = {"target": f"{row.target}@{row.target_version}", "m_size": len(doc["images"]), "top": rows, **figures}
    (out / "index.html").write_text(_html(result), encoding="utf-8")
    (out / "report.md").write_text(_markdown(result), encoding="utf-8")
    return result


def _markdown(result: dict) -> str:
    lines = [f"# Top candidates: target {result['target']}, |M| = {result['m_size']}", "",
             "| rank | photograph | size | competitor | d | person % target / competitor | target | competitor |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["top"]:
        lines.append(f"| {r['rank']} | {r['source']} | {r['size'][0]}×{r['size'][1]} | {r['competitor']} | {r['d']:.3f} | "
                     f"{100 * r['person_target']:.1f} / {100 * r['person_competitor']:.1f} | "
                     f"![target]({r['target_png']}) | ![{r['competitor']}]({r['competitor_png']}) |")
    return "\n".join(lines) + "\n"


def _html(result: dict) -> str:
    e = html.escape
    cells = []
    for r in result["top"]:
        cells.append(
            f"<tr><td>{r['rank']}</td><td>{e(r['source'])}<br>{r['size'][0]}×{r['size'][1]}</td>"
            f"<td>{e(r['competitor'])}</td><td>{r['d']:.3f}</td>"
            f"<td><img src=\"{e(r['target_png'])}\" width=\"{PANEL_WIDTH}\" alt=\"target\"><br>target: "
            f"{100 * r['person_target']:.1f}% person</td>"
            f"<td><img src=\"{e(r['competitor_png'])}\" width=\"{PANEL_WIDTH}\" alt=\"competitor\"><br>"
            f"{e(r['competitor'])}: {100 * r['person_competitor']:.1f}% person</td></tr>")
    pool = "".join(f"<tr><td>{e(name)}</td><td>{100 * share:.0f}%</td><td>"
                   + (f"{result['d_to_target'][name]['mean']:.3f}" if name in result["d_to_target"] else "target")
                   + "</td></tr>" for name, share in result["with_person"].items())
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>segmad: real person segmenter</title>"
            "<style>body{font-family:sans-serif}td{vertical-align:top;padding:4px}</style></head><body>"
            f"<h1>Troubleshooting {e(result['target'])}: the top candidates of M (|M| = {result['m_size']})</h1>"
            "<p>Red: the pixels a model calls person. d = 1 − mIoU of the two maps on (background, person).</p>"
            "<table><tr><th>rank</th><th>photograph</th><th>competitor</th><th>d</th><th>target</th><th>competitor</th></tr>"
            + "".join(cells) + "</table><h2>Over the pool</h2><table><tr><th>model</th><th>photos with a person</th>"
            "<th>mean d to the target</th></tr>" + pool + "</table></body></html>\n")
