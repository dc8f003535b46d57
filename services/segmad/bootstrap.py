"""The composition root: the one place that turns Settings into adapters for the four ports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from segmad.adapters.blobstore import BlobStore, LocalBlobStore
from segmad.adapters.bus import EventBus, InMemoryBus
from segmad.adapters.segmenter import Segmenter, TorchSegmenter
from segmad.catalog import Catalog, make_engine, migrate
from segmad.errors import InputError
from segmad.settings import Settings, load


class SettingError(InputError):
    """A setting names an adapter segmad does not have (or does not have yet)."""

    def __init__(self, variable: str, value: str, problem: str):
        super().__init__(f"{variable}={value!r}: {problem}")


@dataclass
class Ports:
    """The adapters one process talks through."""

    blobs: BlobStore
    bus: EventBus
    catalog: Catalog
    segmenter: Segmenter

    def close(self) -> None:
        """Release connections and pools."""
        self.bus.close()
        self.catalog.engine.dispose()


def build(settings: Settings | None = None) -> Ports:
    """Adapters chosen by the settings (default: this process's environment); the catalog is migrated."""
    settings = settings or load()
    blobs, bus, models = blob_store(settings.blob_url), event_bus(settings.bus), segmenter(settings.torchserve_url)
    # The catalog last: it is the one that connects, so a bad setting elsewhere leaves no open pool.
    return Ports(blobs=blobs, bus=bus, catalog=catalog(settings.database_url), segmenter=models)


def blob_store(url: str) -> BlobStore:
    """file:///path → a local folder."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalBlobStore(Path(parsed.netloc + parsed.path))
    if parsed.scheme == "s3":
        raise SettingError("SEGMAD_BLOB_URL", url, "the S3 blob store is not available yet; use a file:// URL")
    raise SettingError("SEGMAD_BLOB_URL", url, "expected a file:// or s3:// URL")


def event_bus(spec: str) -> EventBus:
    """memory → the in-process bus."""
    if spec == "memory":
        return InMemoryBus()
    if spec.startswith("kafka://"):
        raise SettingError("SEGMAD_BUS", spec, "the Kafka bus is not available yet; use 'memory'")
    raise SettingError("SEGMAD_BUS", spec, "expected 'memory' or kafka://host:port")


def catalog(url: str) -> Catalog:
    """sqlite:/// or postgresql:// → a migrated catalog."""
    if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg2:")):
        raise SettingError("SEGMAD_DATABASE_URL", url, "expected a sqlite:/// or postgresql+psycopg2:// URL")
    engine = make_engine(url)
    try:
        migrate(engine)
    except OperationalError as error:
        engine.dispose()
        shown = make_url(url).render_as_string(hide_password=True)
        raise SettingError("SEGMAD_DATABASE_URL", shown, f"cannot open the catalog database: {error.orig}") from error
    return Catalog(engine)


def segmenter(torchserve_url: str) -> Segmenter:
    """No TorchServe URL → models served in this process."""
    if not torchserve_url:
        return TorchSegmenter()
    raise SettingError("SEGMAD_TORCHSERVE_URL", torchserve_url,
                       "the TorchServe segmenter is not available yet; leave it unset to serve models in-process")
