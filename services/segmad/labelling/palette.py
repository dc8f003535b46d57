"""Class colours (the PASCAL VOC palette) and label-map PNG encoding."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

from segmad.codec import PNG_SIGNATURE, decode_label_png, voc_palette

IGNORE = 255


PALETTE = voc_palette()


def hex_colour(label: int) -> str:
    """CSS colour of a class id."""
    r, g, b = PALETTE[label]
    return f"#{r:02x}{g:02x}{b:02x}"


def png_size(data: bytes) -> tuple[int, int]:
    """(height, width) from a PNG's IHDR chunk, without decoding; ValueError if `data` is no PNG."""
    # The header is read first so that a tiny file declaring a huge image is refused before the
    # decoder allocates it (PIL's bomb check only starts at ~89 megapixels).
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
        raise ValueError("the mask is not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return height, width


def decode_label_map(png: bytes) -> np.ndarray:
    """A label map (H, W) uint8 from PNG bytes of mode L or P (palette indices are the class ids).

    segmad.codec's decoder (its fast path reads the palette masks the labelling UI stores about 10x
    quicker than Pillow); a ValueError (codec.NotALabelMap) names what else the bytes are.
    """
    labels = decode_label_png(png)
    return labels if labels.flags.writeable else labels.copy()  # callers may paint on it


def encode_palette_png(label_map: np.ndarray) -> bytes:
    """VOC-style palette PNG of a label map."""
    image = Image.fromarray(label_map.astype(np.uint8), mode="P")
    image.putpalette(PALETTE.flatten().tolist())
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def overlay_png(label_map: np.ndarray) -> bytes:
    """RGBA PNG of a label map in class colours, background and ignore transparent (for overlays)."""
    rgba = np.zeros(label_map.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = PALETTE[label_map]
    rgba[..., 3] = np.where((label_map == 0) | (label_map == IGNORE), 0, 255)
    out = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(out, format="PNG")
    return out.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    """(height, width) of an encoded image, read from its header; ValueError if it is no image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.height, image.width
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(f"not a readable image ({error})") from None
