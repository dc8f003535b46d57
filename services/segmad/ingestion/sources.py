"""What `segmad ingest SRC` reads: a folder (recursive), a file, a file of URLs, a URL or an S3 prefix."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from segmad.ports.blobs import BlobNotFound, BlobStore
from segmad.errors import InputError
from segmad.ingestion.fetch import fetch
from segmad.ingestion.input import Input
from segmad.ingestion.limits import Limits
from segmad.ingestion.local import file_input, folder_inputs, printable
from segmad.ingestion.normalise import Rejected

__all__ = ["Input", "file_input", "folder_inputs", "inputs", "s3_inputs", "url_input", "url_list"]

_URL_LIST_MAX_BYTES = 64 * 1024 * 1024


def url_input(url: str, limits: Limits, timeout_s: float) -> Input:
    """An http(s) URL."""
    return Input(printable(url), functools.partial(fetch, url, limits.max_bytes, timeout_s))


def url_list(path: Path) -> list[str] | None:
    """The lines of a text file whose first entry is an http(s) URL (blank and # lines skipped); else None."""
    try:
        if path.stat().st_size > _URL_LIST_MAX_BYTES:
            return None
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError):  # unreadable or not UTF-8: not a list; reading it as an image says why
        return None
    lines = [line.strip() for line in text.splitlines()]
    entries = [line for line in lines if line and not line.startswith("#")]
    return entries if entries and entries[0].startswith(("http://", "https://")) else None


def _get_blob(store: BlobStore, key: str) -> bytes:
    try:
        return store.get(key)
    except (BlobNotFound, ValueError) as error:  # gone since listed, or a name the store refuses
        raise Rejected("unreadable", f"{type(error).__name__}: {error}") from None
    except Exception as error:  # no input stops a run: a store gone down mid-run is recorded for each object
        raise Rejected("fetch-failed", f"{type(error).__name__}: {error}") from None


def s3_inputs(url: str, open_bucket: Callable[[str], BlobStore]) -> list[Input]:
    """Every object under s3://bucket/prefix (prefix as in S3: any start of a key), sorted."""
    parsed = urlparse(url)
    if not parsed.netloc:
        raise InputError("expected s3://bucket/prefix", url)
    store, prefix = open_bucket(parsed.netloc), parsed.path.lstrip("/")
    try:
        keys = list(store.keys(prefix))
    except Exception as error:  # whatever the store raises, there is nothing to ingest: one clear line
        raise InputError(f"cannot list the bucket: {type(error).__name__}: {error}", url) from None
    return [Input(f"s3://{parsed.netloc}/{key}", functools.partial(_get_blob, store, key)) for key in keys]


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
    if not path.exists() and not path.is_symlink():
        raise InputError("no such file or folder", spec)
    # A FIFO or a device is not opened here (a FIFO would block): reading it as a file says why not.
    urls = url_list(path) if path.is_file() else None
    return [url_input(u, limits, timeout_s) for u in urls] if urls is not None else [file_input(path, limits)]
