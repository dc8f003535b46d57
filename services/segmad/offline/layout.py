"""The predictions folder of `segmad select`: DIR/<model>/<image_id>.png, one sub-folder per model."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from segmad.errors import InputError
from segmad.offline.maps import BEYOND, list_pngs
from segmad.offline.scan import ImageTask


@dataclass(frozen=True)
class PredictionFolders:
    """The target's maps and every competitor's, checked to cover the target's images."""

    root: Path
    target: str
    competitors: tuple[str, ...]  # sorted
    files: dict[str, dict[str, str]]  # model -> {image id: file name}
    tables: dict[str, bytes] = field(default_factory=dict)  # model -> its label map onto the run's (select --label-map)

    @property
    def image_ids(self) -> list[str]:
        """The pool: ids of the target's maps, sorted."""
        return sorted(self.files[self.target])

    def tasks(self, num_classes: int) -> Iterator[ImageTask]:
        """One task per pool image, in id order."""
        folders = {model: os.path.join(self.root, model) for model in (self.target, *self.competitors)}
        tables = tuple(sorted(self.tables.items()))
        for image_id in self.image_ids:
            yield ImageTask(
                image_id,
                os.path.join(folders[self.target], self.files[self.target][image_id]),
                tuple((c, os.path.join(folders[c], self.files[c][image_id])) for c in self.competitors),
                num_classes,
                tables,
                self.target,
            )


def discover(root: Path, target: str) -> PredictionFolders:
    """List the folders under `root`; every sub-folder but `target` is a competitor.

    Competitors may hold maps of images the target lacks (ignored); the reverse is an error.
    """
    if not root.is_dir():
        raise InputError("no such predictions folder", root)
    if not (root / target).is_dir():
        raise InputError(f"no folder for the target model {target!r}", root / target)
    folders = (p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    competitors = tuple(sorted(name for name in folders if name != target))
    if not competitors:
        raise InputError(f"no competitor folder beside the target {target!r}", root)
    files = {model: list_pngs(root / model) for model in (target, *competitors)}
    if not files[target]:
        raise InputError("the target has no label maps", root / target)
    for competitor in competitors:
        missing = sorted(set(files[target]) - set(files[competitor]))
        if missing:
            raise InputError(
                f"no map of image {missing[0]!r} ({len(missing)} missing in all), which the target has",
                root / competitor / f"{missing[0]}.png",
            )
    return PredictionFolders(root, target, competitors, files)


def label_tables(spec: dict, folders: PredictionFolders, num_classes: int) -> dict[str, bytes]:
    """Lookup tables of the models a `--label-map` file names: {"classes": the run's C+1 names,
    "models": {model: {"classes": its names in index order, "label_map": {its class: run class or null}}}}.
    An id a model's map holds beyond its classes (other than 255, ignore) maps to BEYOND: an input error."""
    from segmad.cards.labels import LabelSpace

    if not isinstance(spec, dict) or not isinstance(spec.get("classes"), list) or not isinstance(spec.get("models"), dict):
        raise InputError('--label-map: expected {"classes": [the run\'s classes], "models": {model: {"classes": [...], '
                         '"label_map": {...}}}}')
    space = LabelSpace(tuple(str(c) for c in spec["classes"]))
    if space.num_classes != num_classes:
        raise InputError(f"--label-map names {space.num_classes} foreground classes, --num-classes is {num_classes}")
    tables = {}
    for model, entry in spec["models"].items():
        if model != folders.target and model not in folders.competitors:
            raise InputError(f"--label-map names model {model!r}, which has no folder "
                             f"(models: {', '.join((folders.target, *folders.competitors))})")
        if not isinstance(entry, dict) or not isinstance(entry.get("classes"), list):
            raise InputError(f"--label-map: model {model!r} needs its classes (a list, index 0 first)")
        label_map = entry.get("label_map") or {}
        if unknown := sorted(set(label_map) - set(entry["classes"])):
            raise InputError(f"--label-map: {model!r} maps classes it does not have: {', '.join(unknown)}")
        table = space.lookup([str(c) for c in entry["classes"]], label_map)
        if len(entry["classes"]) < 255 and (table[: len(entry["classes"])] == 255).all():
            raise InputError(f"--label-map: none of {model!r}'s classes maps onto the run's")
        if num_classes < BEYOND:
            table[len(entry["classes"]):255] = BEYOND
        tables[model] = table.tobytes()
    return tables
