"""`segmad.select` for a notebook: the candidate set M from label maps in memory or in folders (DESIGN §2)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from segmad.errors import InputError
from segmad.mad import IGNORE, CandidateHeaps, SizeBounds, size_bounds
from segmad.mad.distance import discrepancy_and_counts
from segmad.offline.layout import discover
from segmad.offline.maps import check_labels, checked_counts, list_pngs, read_label_map

PathLike = str | os.PathLike
Maps = Mapping[str, np.ndarray] | PathLike  # {image id: (H, W) uint8 map}, or a folder of <id>.png


def select(
    target: Maps,
    competitors: Mapping[str, Maps] | None = None,
    *,
    train_masks: Maps | Iterable[np.ndarray],
    num_classes: int,
    n3: int,
    predictions: PathLike | None = None,
) -> dict:
    """The document `segmad select` writes, {"images": M, "heaps": [...]}, from arrays or folders.

    Either `target` and `competitors` hold the maps ({image id: map} or a folder of `<id>.png` each),
    or `predictions` is the folder `segmad select --predictions` reads and `target` names its target.
    """
    if n3 < 1:
        raise InputError(f"n3 must be at least 1, got {n3}")
    if not 1 <= num_classes < IGNORE:
        raise InputError(f"num_classes must be 1..{IGNORE - 1}, got {num_classes}")
    if predictions is not None:
        if competitors is not None:
            raise InputError("give either predictions= (a folder of model folders) or competitors=, not both")
        target, competitors = _prediction_folders(Path(predictions), str(target))
    if not competitors:
        raise InputError("no competitors: give competitors={name: maps} or predictions=")
    target_maps = _as_maps(target, "target")
    competitor_maps = {name: _as_maps(maps, name) for name, maps in sorted(competitors.items())}
    _check_coverage(target_maps, competitor_maps)
    heaps = CandidateHeaps(n3, _bounds(train_masks, num_classes))
    for image_id in sorted(target_maps):  # the order `segmad select` scans in, so ties break alike
        _push_image(heaps, image_id, target_maps[image_id], competitor_maps, num_classes)
    return {"images": heaps.candidates(), "heaps": heaps.to_records()}


def _prediction_folders(root: Path, target: str) -> tuple[Path, dict[str, Path]]:
    """The target's folder and each competitor's, found and checked as `segmad select` does."""
    folders = discover(root, target)
    return root / folders.target, {name: root / name for name in folders.competitors}


def _push_image(
    heaps: CandidateHeaps,
    image_id: str,
    target_map: np.ndarray | Path,
    competitor_maps: Mapping[str, Mapping[str, np.ndarray | Path]],
    num_classes: int,
) -> None:
    """Score one pool image against every competitor and offer it to their heaps."""
    where = f"target[{image_id!r}]"
    target_map = _load(target_map, where)
    target_counts = checked_counts(target_map, num_classes, where)
    scores = []
    for name, maps in competitor_maps.items():
        where = f"{name}[{image_id!r}]"
        label_map = _load(maps[image_id], where)
        if label_map.shape != target_map.shape:
            raise InputError(f"map shape {label_map.shape} differs from the target's {target_map.shape}", where)
        distance, counts = discrepancy_and_counts(target_map, label_map, target_counts)  # reads the differences
        scores.append((name, distance, _fractions(check_labels(counts, num_classes, where), num_classes, label_map.size)))
    heaps.push_image(image_id, _fractions(target_counts, num_classes, target_map.size), scores)


def _as_maps(maps: Maps, name: str) -> Mapping[str, np.ndarray | Path]:
    """{image id: array or PNG path}; a folder is listed, not read (maps are decoded one image at a time)."""
    if isinstance(maps, (str, os.PathLike)):
        folder = Path(maps)
        return {image_id: folder / file for image_id, file in list_pngs(folder).items()}
    if not isinstance(maps, Mapping):
        raise InputError(f"the maps of {name!r} must be a dict {{image id: array}} or a folder, got {type(maps).__name__}")
    return maps


def _check_coverage(target: Mapping, competitors: Mapping[str, Mapping]) -> None:
    # as `segmad select`: a competitor may hold extra images, never lack one the target has
    if not target:
        raise InputError("the target has no label maps")
    for name, maps in competitors.items():
        missing = sorted(set(target) - set(maps))
        if missing:
            raise InputError(f"competitor {name!r} has no map of image {missing[0]!r} ({len(missing)} missing in all)")


def _load(label_map: np.ndarray | Path, where: str) -> np.ndarray:
    """A checked (H, W) uint8 map from an array or a PNG path."""
    if isinstance(label_map, Path):
        return read_label_map(label_map)
    array = np.asarray(label_map)
    if array.ndim != 2:
        raise InputError(f"a label map must be 2-D (H, W), got shape {array.shape}", where)
    if array.dtype != np.uint8:
        if array.dtype.kind not in "iu" or (array.size and (array.min() < 0 or array.max() > 255)):
            raise InputError(f"a label map must hold integer labels 0..255, got {array.dtype}", where)
        array = array.astype(np.uint8)
    return array


def _fractions(counts: np.ndarray, num_classes: int, pixels: int) -> np.ndarray:
    # the offline scan's arithmetic, so arrays and PNGs give identical heaps
    return counts[: num_classes + 1] / float(pixels)


def _bounds(train_masks: Maps | Iterable[np.ndarray], num_classes: int) -> SizeBounds:
    """Size bounds from the class fractions of the training masks (a folder, a dict or a list of maps)."""
    if isinstance(train_masks, (str, os.PathLike, Mapping)):
        masks = list(_as_maps(train_masks, "train_masks").items())
    else:
        masks = list(enumerate(train_masks))
    if not masks:
        raise InputError("no training masks")
    rows = []
    for key, mask in masks:
        where = f"train_masks[{key!r}]"
        array = _load(mask, where)
        rows.append(_fractions(checked_counts(array, num_classes, where), num_classes, array.size))
    return size_bounds(np.stack(rows), num_classes)
