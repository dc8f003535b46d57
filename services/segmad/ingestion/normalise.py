"""Decode, validate and normalise one image file to an RGB uint8 array, or say why it is refused.

Choices a user may want to know: EXIF orientation is applied to the pixels; transparency is
composited on white; an animated image keeps its first frame; CMYK converts without its ICC
profile; 16-bit channels are scaled to 8 bits (not clipped).

Memory: a decoded image is held once where the file allows it (orientation is applied in place,
an RGB image is not converted); `normalised_image` hands it on as a Pillow image so that it can
be encoded without another full-size copy as an array.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from segmad.ingestion.limits import Limits

_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
# Every image's size is checked against segmad's own --max-pixels as soon as its header is read, so
# Pillow's warning for sizes between its limit and twice that would only add a stray line to stderr.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class Rejected(Exception):
    """Why an input is not ingested: a short code (for counting) and a detail (for people)."""

    def __init__(self, code: str, detail: str):
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}")


def _check_size(width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_pixels:
        raise Rejected("decompression-bomb", f"{width}x{height} is over {limits.max_pixels} pixels")
    if min(width, height) < limits.min_side:
        raise Rejected("too-small", f"{width}x{height} has a side under {limits.min_side}")
    if max(width, height) > limits.max_side:
        raise Rejected("too-large", f"{width}x{height} has a side over {limits.max_side}")


def _open(data: bytes, limits: Limits) -> Image.Image:
    """Open from the header only (Pillow decodes pixels lazily)."""
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise Rejected("not-an-image", "no image format recognises these bytes") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow refuses twice its own limit from the header, before segmad sees the size: say it in
        # segmad's terms (--max-pixels), or Pillow's where a raised --max-pixels let it through.
        found = re.search(r"\((\d+) pixels\)", str(error))
        if found is None:
            raise Rejected("decompression-bomb", str(error)) from None
        pixels = int(found.group(1))
        limit = (f"{limits.max_pixels} pixels" if pixels > limits.max_pixels
                 else f"Pillow's own limit ({2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels)")
        raise Rejected("decompression-bomb", f"{pixels} pixels is over {limit}") from None
    except Exception as error:  # a damaged header can make a Pillow plugin raise almost anything
        raise Rejected("corrupt", f"{type(error).__name__}: {error}") from None


def _to_rgb(picture: Image.Image) -> Image.Image:
    if picture.mode == "RGB":
        return picture
    if picture.mode in _WIDE_MODES:
        wide = np.asarray(picture, dtype=np.float64)
        picture = Image.fromarray(np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8))
    if picture.mode == "P" and "transparency" in picture.info:
        picture = picture.convert("RGBA")
    if picture.mode in _ALPHA_MODES:
        white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(white, picture.convert("RGBA"))
    return picture.convert("RGB")


def normalised_image(data: bytes, limits: Limits = Limits()) -> Image.Image:
    """The image in `data` as an upright RGB Pillow image with no metadata; Rejected with a reason otherwise."""
    if not data:
        raise Rejected("empty", "zero bytes")
    if len(data) > limits.max_bytes:
        raise Rejected("file-too-large", f"{len(data)} bytes is over {limits.max_bytes}")
    with _open(data, limits) as picture:
        _check_size(*picture.size, limits)  # from the header: a bomb is refused before any pixel is allocated
        try:
            picture.verify()  # structure and checksums, without decoding
        except Exception as error:  # as above, for the structure after the header
            raise Rejected("corrupt", f"{type(error).__name__}: {error}") from None
    picture = _open(data, limits)  # not closed here: closing would drop the pixels an RGB file hands on as is
    try:
        picture.seek(0)  # an animation keeps its first frame
        picture.load()
        ImageOps.exif_transpose(picture, in_place=True)
        rgb = _to_rgb(picture)
    except Exception as error:  # truncated data surfaces only when the pixels are decoded
        raise Rejected("corrupt", f"{type(error).__name__}: {error}") from None
    rgb.info = {}  # what the file said (ICC profile, transparency, text) must not reach the stored PNG
    return rgb


def normalise(data: bytes, limits: Limits = Limits()) -> np.ndarray:
    """The image in `data` as an upright (H, W, 3) uint8 RGB array; Rejected with a reason otherwise."""
    return np.asarray(normalised_image(data, limits), dtype=np.uint8)
