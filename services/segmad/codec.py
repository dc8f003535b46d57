"""PNG bytes ⇄ arrays for images and label maps, as stored in the blob store.

Decoding has a fast path for 8-bit, non-interlaced PNGs when the `fast` extra is installed: zlib-ng
(`zlib-ng`) inflates the image data at several times zlib's speed, a map whose rows are all stored
unfiltered (palette maps as Pillow and libpng write them) is read straight from the inflated rows,
and any other is handed to libspng (`pyspng`) as stored deflate blocks, so libspng only undoes the row
filters. Measured on 513x513 label maps (`segmad bench select`), the same pixels: maps Pillow wrote
2.8x Pillow's speed (2x libspng alone), unfiltered maps (segmad's own, see encode_png, and palette
maps) 10-11x. With `pyspng` alone libspng decodes everything; Pillow decodes what the fast path leaves,
and everything when neither is installed (`pip install segmad` needs only numpy and Pillow).
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
try:
    from zlib_ng import zlib_ng
except ImportError:  # without the `fast` extra: libspng (or Pillow) inflates with zlib
    zlib_ng = None

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GREYSCALE, RGB, PALETTE = 0, 2, 3  # PNG colour types
_IHDR = struct.Struct(">I4sIIBBBBB")  # length, type, width, height, bit depth, colour type, ..., interlace
_CHUNK_HEAD = struct.Struct(">I4s")
_CHANNELS = {GREYSCALE: 1, RGB: 3, PALETTE: 1}
FAST_PATH_MAX_BYTES = 1 << 28  # inflated rows; larger images go to Pillow, which guards against decompression bombs
_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


class NotALabelMap(ValueError):
    """Bytes that are not a single-channel PNG: another format, an unreadable file, or RGB and the like."""


LABEL_MAP_LEVEL = 2  # deflate level of label maps: measured on 513x513 maps, smaller than Pillow's level 1, as quick
_MAX_CHUNK = 1 << 30  # IDAT chunks of at most 1 GiB (the format's limit is 2 GiB)


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an RGB image (H, W, 3) or a label map (H, W), both uint8; fast, lossless.

    A label map is written by segmad itself: 8-bit greyscale, every row unfiltered, deflated at
    LABEL_MAP_LEVEL by zlib-ng (the `fast` extra) or zlib. On 513x513 maps that is 9-11x Pillow's
    encoding time at level 1 and a smaller file (Pillow filters rows, which gains nothing on
    piecewise-constant maps), and the fast path decodes it with no unfiltering at all. Any PNG reader
    reads it. RGB images go through Pillow at level 1, whose row filters do pay on photographs.
    """
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim == 2:
        return _encode_label_map(array)
    from PIL import Image  # here, not at import: processes that only decode label maps never load Pillow

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _encode_label_map(labels: np.ndarray) -> bytes:
    """An 8-bit greyscale PNG of (H, W) uint8 labels, rows unfiltered (filter type 0)."""
    height, width = labels.shape
    if height == 0 or width == 0:
        raise ValueError(f"a PNG needs at least one pixel, got a {width}x{height} label map")
    deflate = zlib_ng if zlib_ng is not None else zlib
    rows = np.empty((height, width + 1), np.uint8)
    rows[:, 0] = 0  # filter type None
    rows[:, 1:] = labels
    stream = deflate.compress(rows.data, LABEL_MAP_LEVEL)
    header = struct.pack(">IIBBBBB", width, height, 8, GREYSCALE, 0, 0, 0)
    parts = [PNG_SIGNATURE, _chunk(b"IHDR", header, deflate)]
    parts += [_chunk(b"IDAT", stream[at:at + _MAX_CHUNK], deflate) for at in range(0, len(stream), _MAX_CHUNK)]
    parts.append(_IEND)
    return b"".join(parts)


def _chunk(kind: bytes, data: bytes, checksum) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type and data."""
    crc = checksum.crc32(data, checksum.crc32(kind))
    return b"".join((len(data).to_bytes(4, "big"), kind, data, crc.to_bytes(4, "big")))


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
    names = [name for name, module in (("zlib-ng", zlib_ng), ("pyspng", pyspng)) if module is not None]
    return "+".join(names) or None


def _decode_fast(data: bytes, colour_types: tuple[int, ...]) -> np.ndarray | None:
    """The pixels of an 8-bit, non-interlaced PNG of one of `colour_types`, by the fast path; None to
    leave the PNG to Pillow (another kind of PNG, damage of any sort: Pillow then decides)."""
    if pyspng is None and zlib_ng is None:
        return None
    data = bytes(data)  # no copy when it is bytes already
    if len(data) < 8 + _IHDR.size + 4 or not data.startswith(PNG_SIGNATURE):
        return None
    length, kind, width, height, depth, colour, _, _, interlace = _IHDR.unpack_from(data, 8)
    if length != 13 or kind != b"IHDR" or depth != 8 or interlace != 0 or colour not in colour_types:
        return None  # bit depths below 8 and 16 are Pillow's, which scales or converts them its own way
    if zlib.crc32(data[12:29]) != int.from_bytes(data[29:33], "big"):
        return None
    if zlib_ng is not None:
        return _inflate_then_unfilter(data, width, height, colour)
    if colour == PALETTE:
        data = _palette_as_greyscale(data)
        if data is None:
            return None
    try:
        # libspng stops at any damage and at chunks Pillow tolerates; Pillow then decides
        return pyspng.load(data)
    except (RuntimeError, ValueError):
        return None


def _inflate_then_unfilter(data: bytes, width: int, height: int, colour: int) -> np.ndarray | None:
    """zlib-ng inflates the IDAT chunks (each one's CRC checked, the stream's Adler-32 by zlib-ng); rows
    all of filter type None are the pixels already, any other go to libspng as stored deflate blocks.

    A palette map comes back as its indices (the IHDR handed on says greyscale); chunks other than
    IHDR, IDAT and IEND do not change the pixels and are not read.
    """
    channels = _CHANNELS[colour]
    stride = width * channels + 1  # a filter-type byte, then the row
    expected = height * stride
    if width == 0 or height == 0 or expected > FAST_PATH_MAX_BYTES:
        return None
    compressed = _idat_payload(data)
    if compressed is None:
        return None
    inflater = zlib_ng.decompressobj()
    try:
        rows = inflater.decompress(compressed, expected + 1)
    except zlib_ng.error:
        return None
    if len(rows) != expected or not inflater.eof:
        return None
    filtered = np.frombuffer(rows, np.uint8).reshape(height, stride)
    kinds = filtered[:, 0]
    if not kinds.any():
        pixels = filtered[:, 1:]
        return np.ascontiguousarray(pixels if channels == 1 else pixels.reshape(height, width, channels))
    if pyspng is None or kinds.max() > 4:
        return None  # unknown filter types are damage: Pillow reports it
    png = b"".join((PNG_SIGNATURE, _header_chunk(data, GREYSCALE if colour == PALETTE else colour),
                    _chunk(b"IDAT", _stored_zlib_stream(rows), zlib_ng), _IEND))
    try:
        return pyspng.load(png)
    except (RuntimeError, ValueError):
        return None


def _chunk_spans(data: bytes) -> list[tuple[bytes, int, int]] | None:
    """(type, start, end) of each chunk after IHDR, IEND the last; None when one runs past the end or
    IEND never comes (cut short)."""
    spans, position = [], 33
    while position + 12 <= len(data):
        length, kind = _CHUNK_HEAD.unpack_from(data, position)
        end = position + 12 + length
        if end > len(data):
            return None
        spans.append((kind, position, end))
        if kind == b"IEND":
            return spans
        position = end
    return None


def _header_chunk(data: bytes, colour: int) -> bytes:
    """The PNG's IHDR chunk with its colour type set to `colour` (and its CRC to match)."""
    return _chunk(b"IHDR", data[16:25] + bytes([colour]) + data[26:29], zlib)


def _idat_payload(data: bytes) -> bytes | None:
    """The concatenated data of the IDAT chunks (consecutive, CRCs right), or None for damage."""
    spans = _chunk_spans(data)
    kinds = [kind for kind, _, _ in spans or ()]
    if b"IDAT" not in kinds:
        return None
    first, count = kinds.index(b"IDAT"), kinds.count(b"IDAT")
    if kinds[first:first + count] != [b"IDAT"] * count:
        return None  # IDAT chunks must be consecutive
    parts = []
    for _, start, end in spans[first:first + count]:
        payload = data[start + 8:end - 4]
        if zlib_ng.crc32(payload, zlib_ng.crc32(b"IDAT")) != int.from_bytes(data[end - 4:end], "big"):
            return None
        parts.append(payload)
    return b"".join(parts)


def _stored_zlib_stream(raw: bytes) -> bytes:
    """`raw` as a zlib stream of stored (uncompressed) deflate blocks: inflating it is a copy."""
    parts, size = [b"\x78\x01"], len(raw)
    for start in range(0, size, 65535):
        block = raw[start:start + 65535]
        final = start + 65535 >= size
        parts += [struct.pack("<BHH", final, len(block), 0xFFFF ^ len(block)), block]
    parts.append(zlib_ng.adler32(raw).to_bytes(4, "big"))
    return b"".join(parts)


def _palette_as_greyscale(data: bytes) -> bytes | None:
    """The same PNG relabelled as 8-bit greyscale, so a decoder returns the palette indices as they are.

    libspng expands palettes to RGB; the indices are the labels. Only IHDR (colour type changed,
    CRC recomputed), the IDAT chunks and IEND are kept: the image data is untouched, and the
    chunks that describe colour (PLTE, tRNS, bKGD, ...) would not fit a greyscale image.
    None when a chunk runs past the end (Pillow reports the damage).
    """
    spans = _chunk_spans(data)
    if spans is None:
        return None
    kept = [data[start:end] for kind, start, end in spans if kind in (b"IDAT", b"IEND")]
    return b"".join([PNG_SIGNATURE, _header_chunk(data, GREYSCALE), *kept])


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
