"""The synthetic pool `segmad bench stream` feeds the discrepancy handler: a few hundred variants of
(target, competitor, competitor) label maps reused under random image ids, so a million images cost the
memory of the variants alone while the handler does all its usual work (catalog queries, blob GETs, PNG
decodes, heap merges).
"""

from __future__ import annotations

import zlib
from datetime import datetime, timezone
from typing import Iterator

import numpy as np
from sqlalchemy import insert

from segmad import events
from segmad.bench.synthetic import blocky_map, disagreeing_map
from segmad.catalog import schema
from segmad.catalog.records import ModelVersion, Prediction
from segmad.codec import encode_png
from segmad.mad import class_fractions, size_bounds
from segmad.pipeline.keys import checkpoint_key, prediction_key
from segmad.ports import Ports
from segmad.ports.blobs import BlobNotFound, BlobStore
from segmad.ports.bus import PREDICTIONS, Message
from segmad.rounds import control

TARGET, COMPETITORS, VERSION = "target", ("competitor-a", "competitor-b"), "1"
MODELS = (TARGET, *COMPETITORS)


class SyntheticMaps(BlobStore):
    """A blob store in memory whose prediction maps are the variants: an image's variant follows from its id."""

    def __init__(self, variants: list[dict[str, bytes]]):
        self._variants = variants  # each: model name -> PNG of its label map
        self._blobs: dict[str, bytes] = {}  # anything else put here (nothing, in the benchmark)

    def variant(self, image_id: str) -> int:
        """Which variant an image's maps are."""
        return zlib.crc32(image_id.encode()) % len(self._variants)

    def _map(self, key: str) -> bytes | None:
        parts = key.split("/")  # predictions/MODEL/VERSION/IMAGE.png, as pipeline.keys writes it
        if len(parts) == 4 and parts[0] == "predictions" and parts[2] == VERSION and parts[3].endswith(".png"):
            return self._variants[self.variant(parts[3][:-4])].get(parts[1])
        return None

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Keep `data` in memory."""
        self._blobs[key] = data

    def get(self, key: str) -> bytes:
        """A variant's map for a prediction key, else what was put; BlobNotFound otherwise."""
        data = self._map(key)
        if data is None:
            data = self._blobs.get(key)
        if data is None:
            raise BlobNotFound(key)
        return data

    def exists(self, key: str) -> bool:
        """Whether `get` would answer."""
        return self._map(key) is not None or key in self._blobs

    def delete(self, key: str) -> None:
        """Forget a blob put here (the variants stay)."""
        self._blobs.pop(key, None)

    def keys(self, prefix: str = "") -> Iterator[str]:
        """The keys put here (the variants' keys are not listed: there is one per image)."""
        return iter(sorted(k for k in self._blobs if k.startswith(prefix)))


def make_variants(rng: np.random.Generator, count: int, size: int, num_classes: int) -> list[dict[str, np.ndarray]]:
    """`count` triples of label maps: the target's, and two competitors' that differ from it on 1–40% of pixels."""
    variants = []
    for _ in range(count):
        target = blocky_map(rng, size, num_classes + 1)
        variants.append({TARGET: target, **{name: disagreeing_map(rng, target, 0.01, 0.4, num_classes + 1)
                                            for name in COMPETITORS}})
    return variants


def start_round(ports: Ports, variants: list[dict[str, np.ndarray]], num_classes: int, n3: int) -> None:
    """Catalogue the three models and start round 1 with size bounds from the target's variants."""
    for name in MODELS:
        role = "target" if name == TARGET else "competitor"
        ports.catalog.add_model_version(ModelVersion(name, VERSION, "synthetic", role, checkpoint_key(name, VERSION),
                                                     metrics={"num_classes": num_classes}))
        ports.catalog.set_default_version(name, VERSION)
    fractions = np.stack([class_fractions(v[TARGET], num_classes) for v in variants])
    control.start(ports, 1, TARGET, VERSION, n3, 1, size_bounds(fractions, num_classes))


def encoded(variants: list[dict[str, np.ndarray]], num_classes: int) -> tuple[list[dict[str, bytes]], list[dict]]:
    """Each variant's maps as PNGs (for the blob store) and its class fractions per model (for the events)."""
    pngs = [{name: encode_png(m) for name, m in v.items()} for v in variants]
    fractions = [{name: class_fractions(m, num_classes).tolist() for name, m in v.items()} for v in variants]
    return pngs, fractions


def catalogue_slice(ports: Ports, image_ids: list[str], fractions: list[dict],
                    blobs: SyntheticMaps) -> list[Prediction]:
    """What ingestion and the inference worker commit for a slice of images: image rows, then every model's
    prediction rows (images in bulk: ingestion's one-by-one inserts would be most of a million-image run)."""
    at = datetime.now(timezone.utc)
    rows = [{"image_id": i, "sha256": (i * 4)[:64], "width": 1, "height": 1, "source": "bench stream",
             "blob_key": f"images/{i}.png", "ingested_at": at} for i in image_ids]
    with ports.catalog.begin() as conn:
        conn.execute(insert(schema.images).values(rows))
    predictions = [Prediction(i, name, VERSION, prediction_key(name, VERSION, i), fractions[blobs.variant(i)][name])
                   for name in MODELS for i in image_ids]
    ports.catalog.add_predictions(predictions)
    return predictions


def announcements(predictions: list[Prediction], first_offset: int) -> list[Message]:
    """The PredictionReady messages the inference worker publishes for these predictions, in order."""
    return [Message(PREDICTIONS, 0, first_offset + n, p.image_id, events.to_bytes(
        events.PredictionReady(p.image_id, p.model, p.version, p.blob_key, p.fractions)))
        for n, p in enumerate(predictions)]
