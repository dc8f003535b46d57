"""Labelled training sets in the blob store: S0 (fine-tuning keeps it) and T0 (picks the lr, measures forgetting).

Layout: sets/<name>/manifest.json ({"images": [ids in order], "sizes": [[H, W] of each image],
"num_classes": C, "generation": G}), sets/<name>/<G>/images/<id>.png (RGB) and
sets/<name>/<G>/masks/<id>.png (labels 0..C, 255 = ignore), each image at its own size.
Images are stored one by one as they come, so a set never has to fit in memory. The manifest is
written last: a set is there, whole, once its manifest is. Each add writes a new generation G, so
a set being replaced stays whole under its old manifest until the new one is complete; the old
generation is deleted after. Manifests of older versions (no G) name sets/<name>/images|masks.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import uuid
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from segmad.codec import decode_png, encode_png
from segmad.ports import Ports

_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
PREFIX = "sets/"
IGNORE = 255

Item = tuple[str, np.ndarray, np.ndarray]  # (image id, image (H, W, 3) uint8, mask (H, W) uint8)


def _key(name: str, *parts: str) -> str:
    return "/".join((PREFIX + name,) + parts)


def check_name(name: str) -> str:
    """The name itself if it can name a set or an image in the store; ValueError otherwise."""
    if not _NAME.match(name) or name in (".", ".."):
        raise ValueError(f"{name!r} is not a usable name (letters, digits, '.', '_', '-')")
    return name


def put_set(ports: Ports, name: str, ids: Sequence[str], images: Iterable[np.ndarray],
            masks: Iterable[np.ndarray], num_classes: int | None = None) -> None:
    """Store (or replace) a set: uint8 images (H, W, 3) and masks (H, W), stacked or each its own size."""
    lengths = {what: len(x) for what, x in (("ids", ids), ("images", images), ("masks", masks)) if hasattr(x, "__len__")}
    if len(set(lengths.values())) > 1:  # refused before anything is stored when the counts are known
        raise ValueError(", ".join(f"{n} {what}" for what, n in lengths.items()) + " do not match")
    put_set_items(ports, name, _zipped(ids, images, masks), num_classes)


def _zipped(ids, images, masks) -> Iterator[Item]:
    missing = object()
    for item in itertools.zip_longest(ids, images, masks, fillvalue=missing):
        if any(x is missing for x in item):
            raise ValueError("the ids, images and masks do not match in number")
        yield item


def put_set_items(ports: Ports, name: str, items: Iterable[Item], num_classes: int | None = None) -> None:
    """Store (or replace) a set from (id, image, mask) items, one at a time; C defaults to the largest label."""
    check_name(name)
    if num_classes is not None and num_classes < 1:
        raise ValueError(f"set {name!r}: C = {num_classes}, expected at least 1")
    generation = f"g-{uuid.uuid4().hex[:16]}"
    ids, sizes, seen, largest = [], [], set(), 0
    try:
        for image_id, image, mask in items:
            image, mask = np.asarray(image), np.asarray(mask)
            _check_item(name, image_id, image, mask, seen)
            largest = max(largest, int(np.max(mask, where=mask != IGNORE, initial=0)))
            if num_classes is not None and largest > num_classes:
                raise ValueError(f"set {name!r}: mask {image_id} holds label {largest}, more than C = {num_classes}")
            ports.blobs.put_many([(_key(name, generation, "images", f"{image_id}.png"), encode_png(image)),
                                  (_key(name, generation, "masks", f"{image_id}.png"), encode_png(mask))],
                                 "image/png")
            ids.append(image_id)
            sizes.append(list(mask.shape))
        num_classes = largest if num_classes is None else num_classes
        if num_classes < 1:
            raise ValueError(f"set {name!r}: no mask holds a label above 0 (background); pass C")
    except BaseException:
        # The half-written generation is named by no manifest: nothing would ever read or remove it.
        with contextlib.suppress(Exception):
            _delete(ports, _key(name, generation) + "/")
        raise
    found = {"images": ids, "sizes": sizes, "num_classes": int(num_classes), "generation": generation}
    manifest_key = _key(name, "manifest.json")
    ports.blobs.put(manifest_key, json.dumps(found).encode(), "application/json")
    for key in list(ports.blobs.keys(_key(name) + "/")):
        if key != manifest_key and not key.startswith(_key(name, generation) + "/"):
            ports.blobs.delete(key)


def _check_item(name: str, image_id: str, image: np.ndarray, mask: np.ndarray, seen: set[str]) -> None:
    check_name(image_id)
    if image_id in seen:
        raise ValueError(f"set {name!r} names image {image_id} twice")
    seen.add(image_id)
    if image.dtype != np.uint8 or mask.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image {image_id}: expected uint8 images (H, W, 3) and uint8 masks (H, W)")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"image {image_id} is {image.shape[:2]} (H, W) but its mask is {mask.shape}")


def _delete(ports: Ports, prefix: str) -> None:
    for key in list(ports.blobs.keys(prefix)):
        ports.blobs.delete(key)


def manifest(ports: Ports, name: str) -> dict | None:
    """A set's manifest, or None if there is no such set."""
    key = _key(check_name(name), "manifest.json")
    return json.loads(ports.blobs.get(key)) if ports.blobs.exists(key) else None


def _found(ports: Ports, name: str) -> dict:
    found = manifest(ports, name)
    if found is None:
        raise LookupError(f"no training set {name!r} in the blob store (add it with `segmad sets add {name}`)")
    return found


def iter_set(ports: Ports, name: str) -> Iterator[Item]:
    """(id, image, mask) of each image of a stored set, in order, at its own size; LookupError if absent."""
    found = _found(ports, name)  # here, not in the generator: a missing set fails at the call
    base = _key(name, found["generation"]) if "generation" in found else _key(name)

    def items() -> Iterator[Item]:
        for image_id in found["images"]:
            image, mask = ports.blobs.get_many([f"{base}/images/{image_id}.png", f"{base}/masks/{image_id}.png"])
            yield image_id, decode_png(image), decode_png(mask)

    return items()


def load_set(ports: Ports, name: str, size: tuple[int, int] | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A stored set stacked: (ids, images (N, H, W, 3), masks (N, H, W)), resized to size=(H, W) if given.

    Images resize bilinear and masks nearest neighbour. Without `size` the images must share one
    size (ValueError naming the sizes otherwise); LookupError if the set is absent or empty.
    """
    found = _found(ports, name)
    ids = list(found["images"])
    if not ids:
        raise LookupError(f"training set {name!r} is empty")
    if size is not None:
        size = _checked_size(size)
    elif len(sizes := {tuple(s) for s in found.get("sizes", [])}) > 1:
        raise ValueError(_mixed(name, sizes))
    images = masks = None
    for row, (_, image, mask) in enumerate(iter_set(ports, name)):
        if size is not None:
            image, mask = _resized(image, size, Image.BILINEAR), _resized(mask, size, Image.NEAREST)
        if images is None:  # filled in place: the set is held once, not once as a list and once stacked
            images, masks = np.empty((len(ids),) + image.shape, np.uint8), np.empty((len(ids),) + mask.shape, np.uint8)
        elif image.shape != images.shape[1:]:  # a manifest of an older version, which lists no sizes
            raise ValueError(_mixed(name, {images.shape[1:3], image.shape[:2]}))
        images[row], masks[row] = image, mask
    return ids, images, masks


def _checked_size(size) -> tuple[int, int]:
    if len(size) != 2 or int(size[0]) < 1 or int(size[1]) < 1:
        raise ValueError(f"size must be (H, W) with both at least 1, got {tuple(size)}")
    return int(size[0]), int(size[1])


def _mixed(name: str, sizes) -> str:
    shown = sorted(tuple(int(v) for v in s) for s in sizes)
    listed = ", ".join(f"({h}, {w})" for h, w in shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
    return f"training set {name!r} holds images of several sizes (H, W): {listed}; pass size=(H, W) to resize them to one"


def _resized(array: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    if array.shape[:2] == size:
        return array
    return np.asarray(Image.fromarray(array).resize((size[1], size[0]), resample), dtype=np.uint8)


def set_names(ports: Ports) -> list[str]:
    """The names of every stored set, sorted."""
    return sorted({k[len(PREFIX):].split("/")[0] for k in ports.blobs.keys(PREFIX) if k.endswith("/manifest.json")})
