"""The report's figures as PNG bytes (matplotlib, Agg backend) and galleries (PIL)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from segmad.report.colors import colorize  # noqa: E402


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def line_chart(series: Mapping[str, Sequence[float]], xlabel: str, ylabel: str, title: str,
               x: Sequence[int] | None = None) -> bytes:
    """One line per series over the rounds `x` (default 0..n-1)."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    x = list(x) if x is not None else list(range(max((len(v) for v in series.values()), default=0)))
    for name, values in series.items():
        style = dict(linewidth=2.5, marker="o") if name == "target" else dict(linewidth=1, marker=".", alpha=0.8)
        ax.plot(x[: len(values)], values, label=name, **style)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set_xticks(x)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def bar_chart(groups: Mapping[str, Mapping[str, float]], ylabel: str, title: str) -> bytes:
    """Grouped bars: groups on the x axis, one bar per inner key."""
    names = list(groups)
    keys = list(dict.fromkeys(k for inner in groups.values() for k in inner))
    width = 0.8 / max(len(keys), 1)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, key in enumerate(keys):
        values = [groups[n].get(key, np.nan) for n in names]
        bars = ax.bar(np.arange(len(names)) + i * width - 0.4 + width / 2, values, width, label=key)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(range(len(names)), names)
    ax.set(ylabel=ylabel, title=title)
    if len(keys) > 1:
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


@dataclass(frozen=True)
class GalleryRow:
    """One image of a gallery: the pictures to show side by side and a caption."""

    image: np.ndarray  # (H, W, 3) uint8
    maps: Sequence[tuple[str, np.ndarray]]  # (title, label map) pairs: target, competitor, truth…
    caption: str
    highlight: bool = False  # e.g. selected into S (the paper's red rectangles)


def gallery(rows: Sequence[GalleryRow], scale: int = 2) -> bytes:
    """A grid: one row per image, columns image + each label map, caption on the left."""
    if not rows:
        return b""
    h, w = rows[0].image.shape[:2]
    cell_w, cell_h, label_w, head = w * scale + 6, h * scale + 6, 190, 16
    columns = 1 + max(len(r.maps) for r in rows)
    canvas = Image.new("RGB", (label_w + columns * cell_w, head + len(rows) * cell_h), "white")
    draw = ImageDraw.Draw(canvas)
    for c, title in enumerate(["image"] + [t for t, _ in rows[0].maps]):
        draw.text((label_w + c * cell_w + 3, 2), title, fill="black")
    for r, row in enumerate(rows):
        y = head + r * cell_h
        draw.multiline_text((4, y + 4), row.caption, fill="black", spacing=2)
        pictures = [row.image] + [colorize(m) for _, m in row.maps]
        for c, picture in enumerate(pictures):
            tile = Image.fromarray(picture).resize((w * scale, h * scale), Image.NEAREST)
            canvas.paste(tile, (label_w + c * cell_w + 3, y + 3))
        if row.highlight:
            draw.rectangle([label_w + 1, y + 1, label_w + cell_w - 2, y + cell_h - 2], outline="red", width=3)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()
