"""What `segmad ingest SRC` reads: a folder (recursive), a file, a file of URLs, a URL or an S3 prefix."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from segmad.ports.blobs import BlobNotFound, BlobStore
from segmad.errors import InputError
from segmad.ingestion.fetch import fetch
from segmad.ingestion.limits import Limits
from segmad.ingestion.normalise import Rejected

_URL_LIST_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Input:
    """One thing to ingest: its name (recorded as the image's source) and how to read its bytes."""

    source: str
    read: Callable[[], bytes]  # raises Rejected when the bytes cannot be had


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        if path.stat().st_size > max_bytes:
            raise Rejected("file-too-large", f"{path.stat().st_size} bytes is over {max_bytes}")
        return path.read_bytes()
    except OSError as error:
        raise Rejected("unreadable", f"{type(error).__name__}: {error.strerror or error}") from None


def file_input(path: Path, limits: Limits) -> Input:
    """A local file."""
    return Input(str(path.resolve()), functools.partial(_read_file, path, limits.max_bytes))


def folder_inputs(folder: Path, limits: Limits) -> list[Input]:
    """Every file under `folder`, recursively, sorted; hidden files and folders skipped."""
    files = (p for p in folder.rglob("*") if p.is_file())
    visible = (p for p in files if not any(part.startswith(".") for part in p.relative_to(folder).parts))
    return [file_input(p, limits) for p in sorted(visible)]


def url_input(url: str, limits: Limits, timeout_s: float) -> Input:
    """An http(s) URL."""
    return Input(url, functools.partial(fetch, url, limits.max_bytes, timeout_s))


def url_list(path: Path) -> list[str] | None:
    """The lines of a text file whose first entry is an http(s) URL (blank and # lines skipped); else None."""
    if path.stat().st_size > _URL_LIST_MAX_BYTES:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, ValueError):
        return None
    lines = [line.strip() for line in text.splitlines()]
    entries = [line for line in lines if line and not line.startswith("#")]
    return entries if entries and entries[0].startswith(("http://", "https://")) else None


def _get_blob(store: BlobStore, key: str) -> bytes:
    # Gone since listed, or a name the store refuses, is this object's fault; any other error (the
    # store is down) stops the run rather than being recorded against the image.
    try:
        return store.get(key)
    except (BlobNotFound, ValueError) as error:
        raise Rejected("unreadable", f"{type(error).__name__}: {error}") from None


def s3_inputs(url: str, open_bucket: Callable[[str], BlobStore]) -> list[Input]:
    """Every object under s3://bucket/prefix (prefix as in S3: any start of a key), sorted."""
    parsed = urlparse(url)
    if not parsed.netloc:
        raise InputError("expected s3://bucket/prefix", url)
    store, prefix = open_bucket(parsed.netloc), parsed.path.lstrip("/")
    return [Input(f"s3://{parsed.netloc}/{key}", functools.partial(_get_blob, store, key))
            for key in store.keys(prefix)]


def inputs(spec: str, limits: Limits, timeout_s: float, open_bucket: Callable[[str], BlobStore]) -> list[Input]:
    """The inputs SRC names; InputError if it names nothing segmad can read."""
    if spec.startswith("s3://"):
        return s3_inputs(spec, open_bucket)
    if spec.startswith(("http://", "https://")):
        return [url_input(spec, limits, timeout_s)]
    if "://" in spec:
        raise InputError("expected a folder, a file, a file of URLs, an http(s) URL or s3://bucket/prefix", spec)
    path = Path(spec)
    if path.is_dir():
        return folder_inputs(path, limits)
    if not path.is_file():
        raise InputError("no such file or folder", spec)
    urls = url_list(path)
    return [url_input(u, limits, timeout_s) for u in urls] if urls is not None else [file_input(path, limits)]
