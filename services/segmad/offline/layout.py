"""The predictions folder of `segmad select`: DIR/<model>/<image_id>.png, one sub-folder per model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from segmad.errors import InputError
from segmad.offline.maps import list_pngs
from segmad.offline.scan import ImageTask


@dataclass(frozen=True)
class PredictionFolders:
    """The target's maps and every competitor's, checked to cover the target's images."""

    root: Path
    target: str
    competitors: tuple[str, ...]  # sorted
    files: dict[str, dict[str, str]]  # model -> {image id: file name}

    @property
    def image_ids(self) -> list[str]:
        """The pool: ids of the target's maps, sorted."""
        return sorted(self.files[self.target])

    def tasks(self, num_classes: int) -> Iterator[ImageTask]:
        """One task per pool image, in id order."""
        for image_id in self.image_ids:
            yield ImageTask(
                image_id,
                self.root / self.target / self.files[self.target][image_id],
                tuple((c, self.root / c / self.files[c][image_id]) for c in self.competitors),
                num_classes,
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
