"""Masks made in other tools, read into the round's label space: {file name stem: label map (H, W) uint8}.

Classes are matched by name: background is 0, a round class k is k, VOC's "ignored" (and "ignore") is 255.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from segmad.errors import InputError
from segmad.exchange.brush import decode_mask
from segmad.labelling.palette import IGNORE

IGNORE_NAMES = ("ignored", "ignore")


def class_ids(class_names: list[str]) -> dict[str, int]:
    """Label name (case-insensitive) -> the round's class id."""
    ids = {"background": 0, "_background_": 0} | {name: IGNORE for name in IGNORE_NAMES}
    return ids | {name.lower(): k for k, name in enumerate(class_names, 1)}


def _files(source: Path) -> dict[str, bytes]:
    """Every file of a zip or folder tree by its relative POSIX path."""
    if source.is_dir():
        return {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            return {n: archive.read(n) for n in archive.namelist() if not n.endswith("/")}
    raise InputError("expected a folder or a zip archive", source)


def _label_name(name: str, ids: dict[str, int], source) -> int:
    if name.lower() not in ids:
        raise InputError(f"label {name!r} is not a class of the round ({', '.join(sorted(ids))})", source)
    return ids[name.lower()]


def read_voc(source: Path, class_names: list[str]) -> dict[str, np.ndarray]:
    """SegmentationClass/*.png of a VOC tree or CVAT "Segmentation mask 1.1" zip.

    With a labelmap.txt (`name:r,g,b:parts:actions`) the masks' colours name the classes; without one,
    one-channel masks hold class ids, named by class_names.txt (one per line, from 0) if present.
    """
    files, ids = _files(source), class_ids(class_names)
    by_name = {PurePosixPath(n).name: n for n in files}
    masks = {n: data for n, data in files.items()
             if PurePosixPath(n).parent.name == "SegmentationClass" and n.lower().endswith(".png")}
    if not masks:
        raise InputError("no SegmentationClass/*.png masks found", source)
    if "labelmap.txt" in by_name:
        colours = {}
        for line in files[by_name["labelmap.txt"]].decode().splitlines():
            if line.strip() and not line.startswith("#"):
                name, rgb = line.split(":")[:2]
                colours[tuple(int(v) for v in rgb.split(","))] = _label_name(name, ids, source)
        read = lambda data, name: _unpaint(data, colours, name)
    else:
        lookup = np.arange(256, dtype=np.uint8)
        if "class_names.txt" in by_name:
            names = [n.strip() for n in files[by_name["class_names.txt"]].decode().splitlines() if n.strip()]
            lookup[:len(names)] = [_label_name(n, ids, source) for n in names]
        read = lambda data, name: lookup[_indices(data, name)]
    return {PurePosixPath(n).stem: read(data, n) for n, data in sorted(masks.items())}


def _indices(data: bytes, name: str) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        if image.mode not in ("L", "P"):
            raise InputError("a mask without labelmap.txt must be one-channel (L or P) PNG", name)
        return np.asarray(image, dtype=np.uint8)


def _unpaint(data: bytes, colours: dict[tuple, int], name: str) -> np.ndarray:
    """Colour mask -> class ids through the label map's colours."""
    with Image.open(io.BytesIO(data)) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    out = np.zeros(packed.shape, dtype=np.uint8)
    for value in np.unique(packed).tolist():
        colour = (value >> 16, (value >> 8) & 255, value & 255)
        if colour not in colours:
            raise InputError(f"colour {colour} is not in labelmap.txt", name)
        out[packed == value] = colours[colour]
    return out


def read_labelstudio(source: Path, class_names: list[str]) -> dict[str, np.ndarray]:
    """Brush annotations of a Label Studio JSON export (its latest annotation per task), by image file stem."""
    try:
        tasks = json.loads(source.read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"not a Label Studio JSON export: {error}", source) from None
    ids, out = class_ids(class_names), {}
    for task in tasks:
        annotations = [a for a in task.get("annotations", []) if not a.get("was_cancelled")]
        if not annotations:
            continue
        latest = max(annotations, key=lambda a: (a.get("updated_at") or a.get("created_at") or "", a.get("id", 0)))
        brushes = [r for r in latest["result"] if r.get("type", "").lower() == "brushlabels"]
        if not brushes:
            continue
        image = next(iter(task["data"].values())) if "image" not in task["data"] else task["data"]["image"]
        height, width = brushes[0]["original_height"], brushes[0]["original_width"]
        label_map = np.zeros((height, width), dtype=np.uint8)
        for result in brushes:
            value = result["value"]
            for name in value["brushlabels"]:
                label_map[decode_mask(value["rle"], height, width)] = _label_name(name, ids, source)
        out[PurePosixPath(str(image).split("?d=")[-1]).stem] = label_map
    return out


READERS = {"cvat": read_voc, "voc": read_voc, "labelstudio": read_labelstudio}
