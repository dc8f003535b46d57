"""The ports a process talks to the outside through (DESIGN §3), and `Ports`, the set of them it holds.

Each port is a small abstract class in a module of this package; its adapters live in adapters/:

- blobs (ports/blobs.py `BlobStore`): a local folder (adapters/blobstore.py), S3 (adapters/s3.py).
- bus (ports/bus.py `EventBus`, topics, messages): in process (adapters/bus.py), Kafka (adapters/kafka.py).
- catalog (`Catalog`, catalog/): one SQL for its SQLite and PostgreSQL engines.
- segmenter (ports/segmenter.py `Segmenter`): in process (adapters/segmenter.py), TorchServe (adapters/torchserve.py).
- release (ports/release.py `Release`): in process (adapters/release.py), TorchServe (adapters/torchserve_release.py).

The composition root (bootstrap.py) picks the adapters from the settings; nothing else does.
"""

from __future__ import annotations

from dataclasses import dataclass

from segmad.catalog import Catalog
from segmad.ports.blobs import BlobStore
from segmad.ports.bus import EventBus
from segmad.ports.release import Release
from segmad.ports.segmenter import Segmenter


@dataclass
class Ports:
    """The adapters one process talks through."""

    blobs: BlobStore
    bus: EventBus
    catalog: Catalog
    segmenter: Segmenter
    release: Release  # makes a new version servable by `segmenter`

    def close(self) -> None:
        """Release connections and pools."""
        self.bus.close()
        self.segmenter.close()
        self.catalog.close()
