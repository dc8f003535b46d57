"""PNG bytes ⇄ arrays for images and label maps, as stored in the blob store."""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an RGB image (H, W, 3) or a label map (H, W), both uint8; fast, lossless."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """The uint8 array a PNG holds: (H, W, 3) for RGB, (H, W) for single-channel (palette indices for P)."""
    with Image.open(io.BytesIO(data)) as picture:
        if picture.mode not in ("RGB", "L", "P"):
            picture = picture.convert("RGB")
        return np.asarray(picture, dtype=np.uint8)


def sha256(data: bytes) -> str:
    """Hex digest used to address blobs by content."""
    return hashlib.sha256(data).hexdigest()


def voc_palette() -> np.ndarray:
    """The PASCAL VOC colour map: (256, 3) uint8, the class id's bits interleaved into R, G, B."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for label in range(256):
        c, r, g, b = label, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette[label] = (r, g, b)
    return palette
