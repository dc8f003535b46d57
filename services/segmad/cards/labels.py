"""The run's label space and the mapping of a model's own classes onto it (pure numpy).

A run declares its classes once (SEGMAD_CLASSES, background first; default the synthetic world's).
Every label map a model produces is mapped into that space before it is stored, so d, the size
bands, MOS, T's per-class cap and the reports all compare like with like. A model class that maps
to no run class becomes 255 (ignore): d and the evaluations skip those pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from segmad.errors import InputError

IGNORE = 255


@dataclass(frozen=True)
class LabelSpace:
    """Class names, index 0 first (background); C = len(names) - 1 foreground classes."""

    names: tuple[str, ...]

    def __post_init__(self):
        if len(self.names) < 2:
            raise InputError("a label space needs background and at least one class")
        if len(set(self.names)) != len(self.names):
            raise InputError(f"a label space names a class twice: {', '.join(self.names)}")
        if len(self.names) > 255:
            raise InputError("a label space holds at most 255 classes (255 means ignore)")
        if any(not n.strip() or "\n" in n or "," in n for n in self.names):
            raise InputError("class names are non-empty, on one line, without commas")

    @property
    def num_classes(self) -> int:
        return len(self.names) - 1

    def index(self, name: str) -> int:
        return self.names.index(name)

    def lookup(self, model_classes: Sequence[str], label_map: Mapping[str, str | None] | None = None) -> np.ndarray:
        """A 256-entry uint8 table: model label -> run label (255 where unmapped or out of range).

        `label_map` names the run class of a model class (None: ignore it); a model class it does
        not mention maps to the run class of the same name, if there is one.
        """
        label_map = dict(label_map or {})
        table = np.full(256, IGNORE, dtype=np.uint8)
        for index, name in enumerate(model_classes):
            target = label_map.get(name, name) if name in label_map else (name if name in self.names else None)
            if target is None:
                continue
            if target not in self.names:
                raise InputError(f"class {name!r} maps to {target!r}, which is not in the run's label space "
                                 f"({', '.join(self.names)})")
            table[index] = self.names.index(target)
        return table

    def mapped(self, model_classes: Sequence[str], label_map: Mapping[str, str | None] | None = None) -> list[str]:
        """The run classes some model class maps onto, in run order."""
        table = self.lookup(model_classes, label_map)
        hit = set(int(v) for v in table[: len(model_classes)] if v != IGNORE)
        return [self.names[i] for i in sorted(hit)]


def apply(table: np.ndarray, label_map: np.ndarray) -> np.ndarray:
    """A model's label map in the run's space (a lookup per pixel)."""
    return table[label_map]


def resize_nearest(label_map: np.ndarray, height: int, width: int) -> np.ndarray:
    """A label map resized to (height, width) by nearest neighbour: each output pixel takes the input
    pixel under its centre (Pillow's fixed-point NEAREST differs from
    this at some ties, so every part of segmad that resizes a map uses this one)."""
    h, w = label_map.shape
    if (h, w) == (height, width):
        return label_map
    # Output row i takes input row floor((i + 0.5) * h / height), in integers (no float rounding).
    rows = (2 * np.arange(height) + 1) * h // (2 * height)
    cols = (2 * np.arange(width) + 1) * w // (2 * width)
    return np.ascontiguousarray(label_map[np.ix_(rows, cols)])


def groups(table: np.ndarray, num_model_classes: int, num_run_classes: int) -> list[list[int]]:
    """For each run label 0..C, the model labels that map onto it (fine-tuning sums their probabilities)."""
    members: list[list[int]] = [[] for _ in range(num_run_classes + 1)]
    for model_label in range(num_model_classes):
        if table[model_label] != IGNORE:
            members[int(table[model_label])].append(model_label)
    return members


def brief(names: Sequence[str], most: int = 8) -> str:
    """Class names for a message: the first `most`, then how many there are in all."""
    return ", ".join(names[:most]) + (f", … ({len(names)} in all)" if len(names) > most else "")


def default_class_names(count: int) -> list[str]:
    """The names of classes 1..C when nobody named them: class-1 … class-C (rounds, campaigns, exports, releases)."""
    return [f"class-{k}" for k in range(1, count + 1)]


def run_label_space(num_classes: int | None = None, names: str | None = None) -> LabelSpace:
    """The run's label space: SEGMAD_CLASSES (comma-separated, background first) or the world's first C+1."""
    names = os.environ.get("SEGMAD_CLASSES", "") if names is None else names
    if names.strip():
        space = LabelSpace(tuple(n.strip() for n in names.split(",")))
        if num_classes is not None and space.num_classes != num_classes:
            raise InputError(f"SEGMAD_CLASSES names background and {space.num_classes} classes, but "
                             f"SEGMAD_NUM_CLASSES says C = {num_classes}; make them agree (unset, "
                             "SEGMAD_NUM_CLASSES follows SEGMAD_CLASSES)")
        return space
    from segmad.world.classes import CLASS_NAMES

    count = 8 if num_classes is None else num_classes
    if count > len(CLASS_NAMES) - 1:
        return LabelSpace(("background", *default_class_names(count)))
    return LabelSpace(tuple(CLASS_NAMES[: count + 1]))
