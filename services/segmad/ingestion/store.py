"""Store a batch of images: every blob, then the catalog rows in one INSERT, then the announcements.

The order is what ingestion guarantees, one image or many: a consumer never sees an id the
catalog lacks, and the catalog never names a blob that is not stored. A crash between two steps
leaves the batch stored (and perhaps catalogued) but unannounced, as one image was before.

A batch costs one query for the contents already catalogued and uploads in flight together (the
blob store's `put_many`): `upload`; then one INSERT, the announcements sent together with one
flush, and a query to explain the images that were not new: `catalogue`. flow.py runs the two
stages of consecutive batches at once.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image as Picture

from segmad import events
from segmad.catalog.records import Image
from segmad.codec import encode_png, sha256
from segmad.ingestion.normalise import Rejected
from segmad.ingestion.outcome import DUPLICATE, INGESTED, Outcome, rejection
from segmad.pipeline.keys import image_key
from segmad.ports import Ports
from segmad.ports.bus import IMAGES

BATCH = 64  # images stored, catalogued and announced together
BATCH_BYTES = 64 * 1024 * 1024  # a batch of large images is cut short: about this much PNG held at once
CHECKS = 8  # existence checks in flight at once (for content the catalog already names)


@dataclass(frozen=True, eq=False)
class Prepared:
    """One image ready to store: its PNG (of the normalised pixels), the PNG's sha256, its size and the id it asks for."""

    source: str
    data: bytes
    digest: str
    width: int
    height: int
    image_id: str

    @property
    def image(self) -> Image:
        """Its catalog row."""
        return Image(self.image_id, self.digest, self.width, self.height, self.source, image_key(self.digest))


def content_id(digest: str) -> str:
    """The image id derived from content: the first 16 hex digits of the stored PNG's sha256."""
    return digest[:16]


def _encode(picture: Picture.Image) -> bytes:
    # The same bytes as codec.encode_png of its array (same mode, pixels and settings; no metadata),
    # without first copying the pixels into an array: a large image is held once, not twice.
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def prepare(rgb: np.ndarray | Picture.Image, source: str, image_id: str | None = None) -> Prepared:
    """An RGB image ((H, W, 3) uint8 array, or RGB Pillow image without metadata) encoded and named by content."""
    if isinstance(rgb, Picture.Image):
        data, (width, height) = _encode(rgb), rgb.size
    else:
        data, width, height = encode_png(rgb), int(rgb.shape[1]), int(rgb.shape[0])
    digest = sha256(data)
    return Prepared(source, data, digest, width, height, image_id or content_id(digest))


def store_batch(ports: Ports, batch: Sequence[Prepared | Outcome]) -> list[Outcome]:
    """Store, catalogue and announce the batch's prepared images and record its rejections; one outcome per entry."""
    return catalogue(ports, batch, upload(ports, batch))


def upload(ports: Ports, batch: Sequence[Prepared | Outcome]) -> dict[str, Image]:
    """Store the blobs of the batch's images that need it; the catalogued images among their contents, by sha256."""
    images = [entry for entry in batch if isinstance(entry, Prepared)]
    known = ports.catalog.images_by_sha256(p.digest for p in images) if images else {}
    _store_blobs(ports, images, known)
    return known


def catalogue(ports: Ports, batch: Sequence[Prepared | Outcome], known: dict[str, Image]) -> list[Outcome]:
    """After `upload`: catalogue the new images in one INSERT, announce them with one flush, record the rejections.

    `known` may be older than rows catalogued since (by the previous batch, or another process): a row
    that is no longer new is found out by the INSERT and explained by the catalog, as any other.
    """
    images = [entry for entry in batch if isinstance(entry, Prepared)]
    rows = _rows_to_add(images, known)
    new_ids = ports.catalog.add_images(p.image for p in rows) if rows else set()
    new = [p for p in rows if p.image_id in new_ids]
    for p in new:
        ports.bus.publish(IMAGES, p.image_id, events.to_bytes(
            events.ImageIngested(p.image_id, p.digest, image_key(p.digest), p.width, p.height)))
    if new:
        ports.bus.flush()
    added = {id(p) for p in new}  # the entries whose rows went in
    rest = [p for p in images if id(p) not in added]
    holders = ports.catalog.images_by_id(p.image_id for p in rest) if rest else {}
    by_content = {**{d: image.image_id for d, image in known.items()}, **{p.digest: p.image_id for p in new}}
    if unexplained := {p.digest for p in rest if p.image_id not in holders and p.digest not in by_content}:
        by_content.update((d, image.image_id) for d, image in ports.catalog.images_by_sha256(unexplained).items())
    outcomes = [entry if isinstance(entry, Outcome)
                else Outcome(entry.source, INGESTED, entry.image_id) if id(entry) in added
                else _not_new(entry, holders.get(entry.image_id), by_content.get(entry.digest))
                for entry in batch]
    for outcome in outcomes:
        if outcome.reason:
            ports.catalog.add_rejection(outcome.source, outcome.reason)
    return outcomes


def _not_new(image: Prepared, holder: Image | None, content_holder: str | None) -> Outcome:
    """Why an image's row did not go in: its id names other content, or its content is in the pool already."""
    if holder is not None and holder.sha256 != image.digest:
        return rejection(image.source, Rejected("id-taken", f"image id {image.image_id!r} names other content"))
    return Outcome(image.source, DUPLICATE, holder.image_id if holder else content_holder)


def _rows_to_add(images: Sequence[Prepared], known: dict[str, Image]) -> list[Prepared]:
    """The first image of each content and id not catalogued yet: later ones are duplicates or clashes of it."""
    contents, ids, rows = set(known), set(), []
    for p in images:
        if p.digest not in contents and p.image_id not in ids:
            contents.add(p.digest)
            ids.add(p.image_id)
            rows.append(p)
    return rows


def _store_blobs(ports: Ports, images: Sequence[Prepared], known: dict[str, Image]) -> None:
    """Every image's PNG stored under its content key, each content once, all in flight together."""
    unique = {image_key(p.digest): p for p in images}
    fresh = [(key, p.data) for key, p in unique.items() if p.digest not in known]
    # Content the catalog names was stored before its row went in; a blob lost since is put back.
    named = [(key, p.data) for key, p in unique.items() if p.digest in known]
    if named:
        with ThreadPoolExecutor(min(CHECKS, len(named)), thread_name_prefix="ingest-check") as pool:
            there = list(pool.map(ports.blobs.exists, [key for key, _ in named]))
        fresh += [item for item, found in zip(named, there) if not found]
    if fresh:
        ports.blobs.put_many(fresh, "image/png")
