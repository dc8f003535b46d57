"""Ingest one image: normalise, store once by content, catalogue, announce. Idempotent.

The image is catalogued before ImageIngested is published, so a consumer never sees an id the
catalog lacks; a crash between the two leaves the image catalogued but unannounced.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Iterable

import numpy as np
from PIL import Image as Picture
from tqdm import tqdm

from segmad import events
from segmad.ports.bus import IMAGES
from segmad.catalog.records import Image
from segmad.codec import encode_png, sha256
from segmad.ingestion.limits import Limits
from segmad.ingestion.normalise import Rejected, normalised_image
from segmad.ports import Ports
from segmad.pipeline.keys import image_key

INGESTED, DUPLICATE, REJECTED = "ingested", "duplicate", "rejected"


@dataclass(frozen=True)
class Outcome:
    """What became of one input: ingested, duplicate (content already there) or rejected (with a reason)."""

    source: str
    status: str
    image_id: str | None = None
    reason: str | None = None  # "code: detail" for a rejection

    @property
    def reason_code(self) -> str | None:
        """The reason's short code, for counting."""
        return self.reason.split(":", 1)[0] if self.reason else None


def content_id(digest: str) -> str:
    """The image id derived from content: the first 16 hex digits of the stored PNG's sha256."""
    return digest[:16]


def _encode(picture: Picture.Image) -> bytes:
    # The same bytes as codec.encode_png of its array (same mode, pixels and settings; no metadata),
    # without first copying the pixels into an array: a large image is held once, not twice.
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def store_image(ports: Ports, rgb: np.ndarray | Picture.Image, source: str, image_id: str | None = None) -> Outcome:
    """Store an RGB image ((H, W, 3) uint8 array, or RGB Pillow image without metadata) once by content, catalogue it
    and, if new, publish ImageIngested."""
    if isinstance(rgb, Picture.Image):
        data, (width, height) = _encode(rgb), rgb.size
    else:
        data, width, height = encode_png(rgb), int(rgb.shape[1]), int(rgb.shape[0])
    digest = sha256(data)
    key, image_id = image_key(digest), image_id or content_id(digest)
    if not ports.blobs.exists(key):
        ports.blobs.put(key, data, "image/png")
    image = Image(image_id, digest, width, height, source, key)
    if ports.catalog.add_image(image):
        ports.bus.publish(IMAGES, image_id, events.to_bytes(
            events.ImageIngested(image_id, digest, key, image.width, image.height)))
        return Outcome(source, INGESTED, image_id)
    known = ports.catalog.image(image_id)
    if known is not None and known.sha256 != digest:
        return reject(ports, source, Rejected("id-taken", f"image id {image_id!r} names other content"))
    # Same id and content, or this content under another id: either way it is already in the pool.
    return Outcome(source, DUPLICATE, known.image_id if known else None)


def reject(ports: Ports, source: str, why: Rejected) -> Outcome:
    """Record that `source` was refused and why."""
    ports.catalog.add_rejection(source, str(why))
    return Outcome(source, REJECTED, reason=str(why))


def ingest_bytes(ports: Ports, data: bytes, source: str, image_id: str | None = None,
                 limits: Limits = Limits()) -> Outcome:
    """Ingest the file `data` read from `source`; a refusal is recorded and returned, never raised."""
    try:
        rgb = normalised_image(data, limits)
    except Rejected as why:
        return reject(ports, source, why)
    return store_image(ports, rgb, source, image_id)


def ingest_arrays(ports: Ports, items: Iterable[tuple[str, np.ndarray]], source: str, progress: bool = False) -> int:
    """Store, catalogue and announce RGB images given as (image_id, array); returns how many were new."""
    bar = tqdm(items, desc=f"ingest {source}", unit="img", disable=not progress, leave=False)
    return sum(store_image(ports, array, source, image_id).status == INGESTED for image_id, array in bar)
