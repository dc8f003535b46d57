"""PNG bytes ⇄ arrays for images and label maps, as stored in the blob store.

Decoding uses libspng (`pyspng`, the `fast` extra) for 8-bit PNGs when it is installed: 1.6-2.2x
Pillow's speed on label maps (`segmad bench select`), with the same pixels. Pillow decodes everything else, and everything
when `pyspng` is missing (`pip install segmad` needs only numpy and Pillow).
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Sequence

import numpy as np

try:
    import pyspng
except ImportError:  # the core install: Pillow decodes every PNG
    pyspng = None

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GREYSCALE, RGB, PALETTE = 0, 2, 3  # PNG colour types
_IHDR = struct.Struct(">I4sIIBBBBB")  # length, type, width, height, bit depth, colour type, ..., interlace
_CHUNK_HEAD = struct.Struct(">I4s")


class NotALabelMap(ValueError):
    """Bytes that are not a single-channel PNG: another format, an unreadable file, or RGB and the like."""


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an RGB image (H, W, 3) or a label map (H, W), both uint8; fast, lossless."""
    # Pillow at level 1 stays: measured on 513x513 label maps, libpng, libspng and OpenCV encoded 1.2-2.5x slower
    from PIL import Image  # here, not at import: processes that only decode label maps never load Pillow

    array = np.ascontiguousarray(array, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """The uint8 array a PNG holds: (H, W, 3) for RGB, (H, W) for single-channel (palette indices for P)."""
    fast = _decode_fast(data, (GREYSCALE, RGB, PALETTE))
    if fast is not None:
        return fast
    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        if picture.mode not in ("RGB", "L", "P"):
            picture = picture.convert("RGB")
        return np.asarray(picture, dtype=np.uint8)


def decode_label_png(data: bytes) -> np.ndarray:
    """The (H, W) uint8 labels of a single-channel PNG (L, or P read as palette indices).

    Raises NotALabelMap for bytes that are not a PNG or not single-channel, and Pillow's errors
    (OSError, SyntaxError, ValueError) for a damaged PNG.
    """
    fast = _decode_fast(data, (GREYSCALE, PALETTE))
    if fast is not None:
        return fast
    from PIL import Image, UnidentifiedImageError

    try:
        picture = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise NotALabelMap("not a PNG file (not an image format Pillow knows)") from None
    with picture:
        if picture.format != "PNG":
            raise NotALabelMap(f"not a PNG file (found {picture.format})")
        if picture.mode not in ("L", "P"):
            raise NotALabelMap(f"not a single-channel label map (mode {picture.mode}; expected L or P)")
        return np.asarray(picture, dtype=np.uint8)  # of a P image: the indices, never the palette colours


def fast_decoder() -> str | None:
    """The name of the fast decoder in use, or None when Pillow decodes everything."""
    return None if pyspng is None else "pyspng"


def _decode_fast(data: bytes, colour_types: tuple[int, ...]) -> np.ndarray | None:
    """libspng's pixels of an 8-bit, non-interlaced PNG of one of `colour_types`; None to leave it to Pillow."""
    if pyspng is None:
        return None
    data = bytes(data)  # pyspng takes bytes only; no copy when it is bytes already
    if len(data) < 8 + _IHDR.size + 4 or not data.startswith(PNG_SIGNATURE):
        return None
    length, kind, _, _, depth, colour, _, _, interlace = _IHDR.unpack_from(data, 8)
    if length != 13 or kind != b"IHDR" or depth != 8 or interlace != 0 or colour not in colour_types:
        return None  # bit depths below 8 and 16 are Pillow's, which scales or converts them its own way
    if colour == PALETTE:
        data = _palette_as_greyscale(data)
        if data is None:
            return None
    try:
        # libspng stops at any damage and at chunks Pillow tolerates; Pillow then decides
        return pyspng.load(data)
    except (RuntimeError, ValueError):
        return None


def _palette_as_greyscale(data: bytes) -> bytes | None:
    """The same PNG relabelled as 8-bit greyscale, so a decoder returns the palette indices as they are.

    libspng expands palettes to RGB; the indices are the labels. Only IHDR (colour type changed,
    CRC recomputed), the IDAT chunks and IEND are kept: the image data is untouched, and the
    chunks that describe colour (PLTE, tRNS, bKGD, ...) would not fit a greyscale image.
    None when the header's CRC is wrong or a chunk runs past the end (Pillow reports the damage).
    """
    header = data[12:29]
    if zlib.crc32(header) != int.from_bytes(data[29:33], "big"):
        return None
    relabelled = header[:13] + bytes([GREYSCALE]) + header[14:]
    parts = [PNG_SIGNATURE, data[8:12], relabelled, zlib.crc32(relabelled).to_bytes(4, "big")]
    position = 33
    while position + 8 <= len(data):
        length, kind = _CHUNK_HEAD.unpack_from(data, position)
        end = position + 12 + length
        if end > len(data):
            return None
        if kind in (b"IDAT", b"IEND"):
            parts.append(data[position:end])
        if kind == b"IEND":
            return b"".join(parts)
        position = end
    return None


PACK_MAGIC = b"SGMD"


def pack(blobs: Sequence[bytes]) -> bytes:
    """Several byte strings in one body (the TorchServe handler's multi-image requests and answers):
    b"SGMD", a big-endian uint32 count, then per string a uint32 length and its bytes."""
    parts = [PACK_MAGIC, struct.pack(">I", len(blobs))]
    for blob in blobs:
        parts += [struct.pack(">I", len(blob)), blob]
    return b"".join(parts)


def unpack(body: bytes) -> list[bytes]:
    """The byte strings of a pack; ValueError if the body is not one whole pack."""
    if not body.startswith(PACK_MAGIC) or len(body) < 8:
        raise ValueError("not a pack of images")
    (count,), at, blobs = struct.unpack_from(">I", body, 4), 8, []
    for _ in range(count):
        if at + 4 > len(body):
            raise ValueError("a pack of images cut short")
        (size,) = struct.unpack_from(">I", body, at)
        if at + 4 + size > len(body):
            raise ValueError("a pack of images cut short")
        blobs.append(body[at + 4:at + 4 + size])
        at += 4 + size
    if at != len(body) or not blobs:
        raise ValueError("a pack of images with trailing bytes or no image")
    return blobs


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
