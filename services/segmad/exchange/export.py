"""`export_round`: a round written in one of the formats other tools read."""

from __future__ import annotations

from pathlib import Path

from segmad.errors import InputError
from segmad.exchange.coco import write_coco
from segmad.exchange.fiftyone import write_fiftyone
from segmad.exchange.labelstudio import write_labelstudio
from segmad.exchange.round_set import load_round
from segmad.exchange.voc import write_voc

WRITERS = {"voc": write_voc, "coco": write_coco, "labelstudio": write_labelstudio, "fiftyone": write_fiftyone}


def export_round(ports, round_: int, format: str, out: Path) -> int:
    """Write round `round_` to the new or empty folder `out` as `format`; how many images."""
    if format not in WRITERS:
        raise InputError(f"unknown format {format!r}; choose one of {', '.join(WRITERS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("--out must be a new or empty folder", out)
    round_set = load_round(ports, round_)
    out.mkdir(parents=True, exist_ok=True)
    return WRITERS[format](round_set, out)
