"""Label maps made elsewhere, brought into the catalog as a model version's predictions.

The offline path into the loop: a team that never runs TorchServe exports its models' maps (one
8-bit PNG per image, class indices, 255 = ignore), imports them as NAME@VERSION, starts a round, and
`round close-mining` mines them in one pass; then people rate, paint and export as in any round.
Each map is matched to a catalogued image by its file stem (the image id, or the stem of the file
the image was ingested from), checked like `segmad select`'s input (8-bit, at the image's size,
labels within the model's classes or 255), mapped onto the run's label space, stored, catalogued,
and announced (the discrepancy workers score it like a predicted map).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from tqdm import tqdm

from segmad.cards.labels import LabelSpace, brief
from segmad.catalog.records import ModelVersion, Prediction
from segmad.codec import decode_png, encode_png
from segmad.errors import InputError, not_a_folder
from segmad.exchange.round_set import file_stems, stem_owners
from segmad.mad import class_fractions
from segmad.pipeline.keys import model_part, prediction_key
from segmad.pipeline.stages import announce
from segmad.ports import Ports

IMPORTED = "imported"  # the arch of a version whose maps were made elsewhere (it cannot predict more)


def import_predictions(ports: Ports, folder: Path, name: str, version: str, role: str, space: LabelSpace,
                       model_classes: Sequence[str] | None = None, label_map: Mapping[str, str | None] | None = None,
                       make_default: bool = True, progress: bool = False) -> dict:
    """Import folder/*.png as NAME@VERSION's maps (again: only the images it lacks);
    {"model", "imported": new maps, "maps": its maps in all, "unmatched": file names no image has,
    "ambiguous": {file name: the image ids whose ingested files share its stem}}."""
    folder = Path(folder)
    try:  # before anything is written: both become parts of blob keys
        model_part(name), model_part(version, "a version")
    except ValueError as error:
        raise InputError(str(error)) from None
    if not folder.is_dir():
        raise InputError(not_a_folder(folder), folder)
    files = {p.stem: p for p in sorted(folder.glob("*.png"))}
    if not files:
        raise InputError(f"no .png label maps in {folder}")
    classes = list(model_classes or space.names)
    table = space.lookup(classes, label_map)
    if not (table[: len(classes)] != 255).any():
        raise InputError(f"none of the classes ({brief(classes)}) maps onto the run's label space "
                         f"({', '.join(space.names)})")
    images = ports.catalog.images_by_id(ports.catalog.image_ids())
    sources = {i: r.source for i, r in images.items()}
    by_stem = {i: i for i in images} | {stem: i for i, stem in file_stems(sources).items()}
    shared = {stem: sorted(ids) for stem, ids in stem_owners(sources).items() if len(ids) > 1}  # a bare stem: which?
    known = ports.catalog.model_version(name, version)
    if known is not None and known.arch != IMPORTED:
        raise InputError(f"{name}@{version} is a model segmad runs ({known.arch}); import under another version")
    done = {p.image_id for p in ports.catalog.predictions_for_model_version(name, version)} if known else set()
    matched = {stem: by_stem[stem] for stem in files if stem in by_stem and by_stem[stem] not in done}
    ambiguous = {files[stem].name: shared[stem] for stem in files if stem not in by_stem and stem in shared}
    unmatched = [files[stem].name for stem in files if stem not in by_stem and stem not in shared]
    if not matched and not done:  # a model with no map would enter rounds and stop their mining
        example = (unmatched or list(ambiguous) or ["(no .png)"])[0]
        raise InputError(f"none of the {len(files)} maps names an ingested image (e.g. {example}); name each map "
                         "by its image id or by the stem of the file it was ingested from", folder)
    # Every map is checked before anything is stored: a refused import leaves the catalog as it was.
    for stem, image_id in tqdm(matched.items(), desc=f"check {name}@{version}", unit="map", disable=not progress,
                               leave=False):
        _checked(files[stem], images[image_id], len(classes))
    if known is None:
        ports.catalog.add_model_version(ModelVersion(name, version, IMPORTED, role, "", metrics={
            "num_classes": space.num_classes, "run_classes": list(space.names), "classes": classes,
            "format": IMPORTED}))
    rows, blobs = [], []
    for stem, image_id in tqdm(matched.items(), desc=f"import {name}@{version}", unit="map", disable=not progress):
        mapped = table[_checked(files[stem], images[image_id], len(classes))]
        key = prediction_key(name, version, image_id)
        blobs.append((key, encode_png(mapped)))
        rows.append(Prediction(image_id, name, version, key, class_fractions(mapped, space.num_classes).tolist(), 0.0))
        if len(rows) >= 256:
            _store(ports, blobs, rows)
            blobs, rows = [], []
    _store(ports, blobs, rows)
    if make_default:
        ports.catalog.set_default_version(name, version)
    return {"model": f"{name}@{version}", "imported": len(matched), "maps": len(done) + len(matched),
            "unmatched": unmatched, "ambiguous": ambiguous}


def _checked(path: Path, image, num_model_classes: int) -> np.ndarray:
    try:
        label_map = decode_png(path.read_bytes())
    except Exception as error:
        raise InputError(f"{path}: not a readable PNG ({type(error).__name__})") from error
    if label_map.ndim != 2 or label_map.dtype != np.uint8:
        raise InputError(f"{path}: expected an 8-bit single-channel label map, got {label_map.dtype} "
                         f"{label_map.shape}")
    if image.height and image.width and label_map.shape != (image.height, image.width):
        raise InputError(f"{path}: the map is {label_map.shape[1]}x{label_map.shape[0]}, its image "
                         f"{image.width}x{image.height}")
    largest = int(label_map[label_map != 255].max(initial=0))
    if largest >= num_model_classes:
        raise InputError(f"{path}: label {largest}, but the model has {num_model_classes} classes (0..{num_model_classes - 1})")
    return label_map


def _store(ports: Ports, blobs: list, rows: list) -> None:
    """Maps before rows, rows before announcements (as predicted maps are)."""
    if not rows:
        return
    ports.blobs.put_many(blobs, "image/png")
    ports.catalog.add_predictions(rows)
    announce(ports, rows)
    ports.bus.flush()
