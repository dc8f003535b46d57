"""The composition root: the one place that turns Settings into adapters for the ports (segmad.ports)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from segmad.adapters.blobstore import LocalBlobStore

from segmad.ports.blobs import BlobStore
from segmad.adapters.bus import InMemoryBus
from segmad.ports.bus import EventBus
from segmad.ports.release import Release
from segmad.ports.segmenter import Segmenter
from segmad.catalog import Catalog, make_engine, migrate
from segmad.errors import InputError
from segmad.ports import Ports
from segmad.settings import Settings, load

if TYPE_CHECKING:  # torch is imported only by what runs models here: the workers on TorchServe never load it
    from segmad.adapters.segmenter import TorchSegmenter


class SettingError(InputError):
    """A setting names an adapter segmad does not have (or does not have yet)."""

    def __init__(self, variable: str, value: str, problem: str):
        super().__init__(f"{variable}={value!r}: {problem}")


def build(settings: Settings | None = None) -> Ports:
    """Adapters chosen by the settings (default: this process's environment); the catalog is migrated."""
    settings = settings or load()
    blobs, bus = blob_store(settings.blob_url, settings), event_bus(settings.bus)
    models, release = serving(settings.torchserve_url, settings.model_store)
    # The catalog last: it is the one that connects, so a bad setting elsewhere leaves no open pool.
    return Ports(blobs=blobs, bus=bus, catalog=catalog(settings.database_url, settings.database_schema),
                 segmenter=models, release=release)


def preload(settings: Settings | None = None) -> None:
    """Import what `build` will need for these settings, in a server's master process before it forks
    its workers: they then share those modules instead of each importing them at boot (torch for the
    in-process segmenter: ~185 MB and 1-2.5 s per worker; nothing of it with a TorchServe URL)."""
    settings = settings or load()
    if not settings.torchserve_url:
        import segmad.adapters.release  # noqa: F401
        import segmad.adapters.segmenter  # noqa: F401


def blob_store(url: str, settings: Settings | None = None, named_by: str = "SEGMAD_BLOB_URL") -> BlobStore:
    """file:///path → a local folder; s3://bucket[/prefix] → S3 at SEGMAD_S3_ENDPOINT. `named_by`: where the URL
    came from, for the message when it cannot be used (the setting, or a command's argument)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalBlobStore(Path(parsed.netloc + parsed.path))
    if parsed.scheme == "s3":
        from segmad.adapters.s3 import S3BlobStore, client_for, split_blob_url

        settings = settings or load()
        if not settings.s3_endpoint:
            raise SettingError(named_by, url, "an s3:// store needs SEGMAD_S3_ENDPOINT (http://host:port)")
        try:
            bucket, prefix = split_blob_url(url)
            client = client_for(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key)
            return S3BlobStore(client, bucket, prefix)
        except ValueError as error:
            raise SettingError(named_by, url, str(error)) from error
    raise SettingError(named_by, url, "expected a file:// or s3:// URL")


def event_bus(spec: str) -> EventBus:
    """memory → the in-process bus; kafka://host:port[?partitions=N] → Kafka."""
    if spec == "memory":
        return InMemoryBus()
    if spec.startswith("kafka://"):
        from segmad.adapters.kafka import KafkaBus, parse_bus_url

        try:
            return KafkaBus(**parse_bus_url(spec))
        except ValueError as error:
            raise SettingError("SEGMAD_BUS", spec, str(error)) from error
    raise SettingError("SEGMAD_BUS", spec, "expected 'memory' or kafka://host:port")


def catalog(url: str, schema: str = "") -> Catalog:
    """sqlite:/// or postgresql:// → a migrated catalog (in `schema` on PostgreSQL, when given)."""
    if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg2:")):
        raise SettingError("SEGMAD_DATABASE_URL", url, "expected a sqlite:/// or postgresql+psycopg2:// URL")
    try:
        engine = make_engine(url, schema or None)
    except ValueError as error:
        raise SettingError("SEGMAD_DATABASE_SCHEMA", schema, str(error)) from error
    try:
        migrate(engine)
    except OperationalError as error:
        engine.dispose()
        shown = make_url(url).render_as_string(hide_password=True)
        raise SettingError("SEGMAD_DATABASE_URL", shown, f"cannot open the catalog database: {error.orig}") from error
    return Catalog(engine)


def serving(torchserve_url: str, model_store: Path) -> tuple[Segmenter, Release]:
    """No TorchServe URL → models served and released in this process; http://host:port → that TorchServe,
    new versions archived into `model_store` (its --model-store folder)."""
    if not torchserve_url:
        from segmad.adapters.release import InProcessRelease
        from segmad.adapters.segmenter import TorchSegmenter

        models = TorchSegmenter()
        return models, InProcessRelease(models)
    from segmad.adapters.torchserve import TorchServeSegmenter
    from segmad.adapters.torchserve_release import TorchServeRelease

    try:
        models = TorchServeSegmenter(torchserve_url)
    except ValueError as error:
        raise SettingError("SEGMAD_TORCHSERVE_URL", torchserve_url, str(error)) from error
    return models, TorchServeRelease(models.management, model_store)


def with_segmenter(ports: Ports, segmenter: TorchSegmenter) -> Ports:
    """The ports predicting with an in-process `segmenter` of their own, new versions released into it."""
    from segmad.adapters.release import InProcessRelease

    return replace(ports, segmenter=segmenter, release=InProcessRelease(segmenter))
