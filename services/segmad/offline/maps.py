"""Reading label-map folders: PNG listing and single-channel label maps checked against C."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from segmad.codec import NotALabelMap, decode_label_png
from segmad.errors import InputError, not_a_folder
from segmad.mad import IGNORE, label_counts


def list_pngs(folder: Path) -> dict[str, str]:
    """{image id: file name} for every `<id>.png` in a folder; any other entry is an error.

    Hidden entries (a leading dot, e.g. `.DS_Store`) are skipped, as a user would expect.
    """
    if not folder.is_dir():
        raise InputError(not_a_folder(folder), folder)
    names: dict[str, str] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            stem, suffix = os.path.splitext(entry.name)
            if suffix.lower() != ".png" or not entry.is_file():
                raise InputError("not a PNG label map (expected <image_id>.png)", folder / entry.name)
            if stem in names:
                raise InputError(f"image id {stem!r} appears twice in this folder", folder / entry.name)
            names[stem] = entry.name
    return names


# What a --label-map table gives an id beyond the model's class list (other than 255), so that the scan's
# check of the mapped labels finds it at no cost (runs of C < 254; at C = 254 every id is a class).
BEYOND = 254


def read_label_map(path: str | Path) -> np.ndarray:
    """The (H, W) uint8 labels of a single-channel PNG (`L`, or `P` read as palette indices)."""
    try:
        with open(path, "rb") as file:
            data = file.read()
        return decode_label_png(data)  # libspng when the `fast` extra is installed, else Pillow
    except NotALabelMap as error:
        raise InputError(str(error), path) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(f"cannot read PNG ({error.__class__.__name__}: {error})", path) from None


def checked_counts(label_map: np.ndarray, num_classes: int, path: str | Path) -> np.ndarray:
    """The map's `label_counts`, after checking that every label is 0..C or 255 (ignore)."""
    return check_labels(label_counts(label_map), num_classes, path)


def check_labels(counts: np.ndarray, num_classes: int, path: str | Path) -> np.ndarray:
    """The map's label counts as given, after checking that every label is 0..C or 255 (ignore)."""
    unknown = np.flatnonzero(counts[num_classes + 1 : IGNORE]) + num_classes + 1
    if unknown.size:
        raise InputError(f"class id {int(unknown[0])} is above C = {num_classes} (--num-classes; num_classes= in "
                         "Python) and is not 255 (ignore)", path)
    return counts
