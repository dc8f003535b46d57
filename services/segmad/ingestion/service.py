"""Ingest images: normalise, store once by content, catalogue, announce. Idempotent.

Images are stored by batches (store.py): a batch's blobs are all stored before its rows are
catalogued, and only catalogued images are announced, so a consumer never sees an id the catalog
lacks; a crash between two steps leaves images catalogued but unannounced. One image is a batch
of one; many go through flow.py, which keeps preparation, uploads, the catalog and the bus busy.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
from PIL import Image as Picture
from tqdm import tqdm

from segmad.ingestion.flow import ingest_stream
from segmad.ingestion.limits import Limits
from segmad.ingestion.normalise import Rejected, normalised_image
from segmad.ingestion.outcome import DUPLICATE, INGESTED, REJECTED, Outcome, rejection
from segmad.ingestion.store import Prepared, content_id, prepare, store_batch
from segmad.ports import Ports

__all__ = ["DUPLICATE", "INGESTED", "REJECTED", "Outcome", "content_id", "ingest_arrays", "ingest_bytes",
           "prepare_bytes", "reject", "store_image"]


def store_image(ports: Ports, rgb: np.ndarray | Picture.Image, source: str, image_id: str | None = None) -> Outcome:
    """Store an RGB image ((H, W, 3) uint8 array, or RGB Pillow image without metadata) once by content, catalogue it
    and, if new, publish ImageIngested."""
    return store_batch(ports, [prepare(rgb, source, image_id)])[0]


def reject(ports: Ports, source: str, why: Rejected) -> Outcome:
    """Record that `source` was refused and why."""
    return store_batch(ports, [rejection(source, why)])[0]


def prepare_bytes(data: bytes, source: str, image_id: str | None = None, limits: Limits = Limits()) -> Prepared | Outcome:
    """The file `data` read from `source` normalised and encoded for storing, or its rejection (not yet recorded)."""
    try:
        return prepare(normalised_image(data, limits), source, image_id)
    except Rejected as why:
        return rejection(source, why)


def ingest_bytes(ports: Ports, data: bytes, source: str, image_id: str | None = None,
                 limits: Limits = Limits()) -> Outcome:
    """Ingest the file `data` read from `source`; a refusal is recorded and returned, never raised."""
    return store_batch(ports, [prepare_bytes(data, source, image_id, limits)])[0]


def ingest_arrays(ports: Ports, items: Iterable[tuple[str, np.ndarray]], source: str, progress: bool = False) -> int:
    """Store, catalogue and announce RGB images given as (image_id, array), by batches; returns how many were new."""
    outcomes = ingest_stream(ports, items, lambda item: prepare(item[1], source, item[0]))
    bar = tqdm(outcomes, desc=f"ingest {source}", unit="img", disable=not progress, leave=False)
    return sum(outcome.status == INGESTED for outcome in bar)
