"""Labelled training sets in the blob store: S0 (fine-tuning keeps it) and T0 (picks the lr, measures forgetting).

Layout: sets/<name>/manifest.json ({"images": [ids in order], "num_classes": C}),
sets/<name>/images/<id>.png (RGB) and sets/<name>/masks/<id>.png (labels 0..C, 255 = ignore).
The manifest is written last: a set is there, whole, once its manifest is.
"""

from __future__ import annotations

import json
import re
from typing import Sequence

import numpy as np

from segmad.codec import decode_png, encode_png
from segmad.ports import Ports

_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
PREFIX = "sets/"


def _key(name: str, *parts: str) -> str:
    return "/".join((PREFIX + name,) + parts)


def check_name(name: str) -> str:
    """The name itself if it can name a set or an image in the store; ValueError otherwise."""
    if not _NAME.match(name) or name in (".", ".."):
        raise ValueError(f"{name!r} is not a usable name (letters, digits, '.', '_', '-')")
    return name


def put_set(ports: Ports, name: str, ids: Sequence[str], images: np.ndarray, masks: np.ndarray,
            num_classes: int | None = None) -> None:
    """Store (or replace) a set: uint8 images (N, H, W, 3) and masks (N, H, W); C defaults to the largest label."""
    check_name(name)
    ids = [check_name(i) for i in ids]
    if len(set(ids)) != len(ids):
        raise ValueError(f"set {name!r} names an image twice")
    if images.dtype != np.uint8 or masks.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError("expected uint8 images (N, H, W, 3) and uint8 masks (N, H, W)")
    if masks.shape != images.shape[:3] or len(ids) != len(images):
        raise ValueError(f"{len(ids)} ids, images {images.shape} and masks {masks.shape} do not match")
    labels = np.unique(masks[masks != 255]) if masks.size else np.zeros(0, np.uint8)
    largest = int(labels.max()) if labels.size else 0
    num_classes = largest if num_classes is None else num_classes
    if num_classes < 1 or largest > num_classes:
        raise ValueError(f"set {name!r}: masks hold label {largest}, more than C = {num_classes}")
    for image_id, image, mask in zip(ids, images, masks):
        ports.blobs.put(_key(name, "images", f"{image_id}.png"), encode_png(image), "image/png")
        ports.blobs.put(_key(name, "masks", f"{image_id}.png"), encode_png(mask), "image/png")
    manifest = {"images": ids, "num_classes": int(num_classes)}
    ports.blobs.put(_key(name, "manifest.json"), json.dumps(manifest).encode(), "application/json")


def manifest(ports: Ports, name: str) -> dict | None:
    """A set's manifest, or None if there is no such set."""
    key = _key(check_name(name), "manifest.json")
    return json.loads(ports.blobs.get(key)) if ports.blobs.exists(key) else None


def load_set(ports: Ports, name: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A stored set: (ids, images (N, H, W, 3) uint8, masks (N, H, W) uint8); LookupError if absent."""
    found = manifest(ports, name)
    if found is None:
        raise LookupError(f"no training set {name!r} in the blob store (add it with `segmad sets add {name}`)")
    ids = list(found["images"])
    if not ids:
        raise LookupError(f"training set {name!r} is empty")
    images = np.stack([decode_png(ports.blobs.get(_key(name, "images", f"{i}.png"))) for i in ids])
    masks = np.stack([decode_png(ports.blobs.get(_key(name, "masks", f"{i}.png"))) for i in ids])
    return ids, images, masks


def set_names(ports: Ports) -> list[str]:
    """The names of every stored set, sorted."""
    return sorted({k[len(PREFIX):].split("/")[0] for k in ports.blobs.keys(PREFIX) if k.endswith("/manifest.json")})
