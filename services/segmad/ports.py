"""The ports a process talks to the outside through (DESIGN §3), and `Ports`, the set of them it holds.

Each port is a small abstract class beside its embedded adapter (what unit tests run on); the real
adapters have modules of their own:

- blobs: `BlobStore`, `LocalBlobStore` (adapters/blobstore.py); S3 in adapters/s3.py.
- bus: `EventBus`, `InMemoryBus` (adapters/bus.py); Kafka in adapters/kafka.py.
- catalog: `Catalog` (catalog/), one SQL for its SQLite and PostgreSQL engines.
- segmenter: `Segmenter`, `TorchSegmenter` (adapters/segmenter.py); TorchServe in adapters/torchserve.py.
- release: `Release`, `InProcessRelease` (adapters/release.py); TorchServe in adapters/torchserve_release.py.

The composition root (bootstrap.py) picks the adapters from the settings; nothing else does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from segmad.adapters.blobstore import BlobStore
from segmad.adapters.bus import EventBus
from segmad.adapters.release import InProcessRelease, Release
from segmad.adapters.segmenter import Segmenter, TorchSegmenter
from segmad.catalog import Catalog


@dataclass
class Ports:
    """The adapters one process talks through."""

    blobs: BlobStore
    bus: EventBus
    catalog: Catalog
    segmenter: Segmenter
    release: Release  # makes a new version servable by `segmenter`

    def with_segmenter(self, segmenter: TorchSegmenter) -> "Ports":
        """These ports predicting with an in-process `segmenter` of their own, new versions released into it."""
        return replace(self, segmenter=segmenter, release=InProcessRelease(segmenter))

    def close(self) -> None:
        """Release connections and pools."""
        self.bus.close()
        self.segmenter.close()
        self.catalog.engine.dispose()
