"""Open an S3 bucket to read images from: it must exist already, for reading never creates one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from segmad.errors import InputError

if TYPE_CHECKING:
    from segmad.adapters.s3 import S3BlobStore


def open_existing_bucket(name: str, blob_store: Callable[[str], S3BlobStore]) -> S3BlobStore:
    """The store of bucket `name` built by `blob_store("s3://name")`; InputError if it is missing or unreachable."""
    url = f"s3://{name}"
    store = blob_store(url)
    store.create_bucket = False  # a store that is read: a bucket gone meanwhile is an error, never re-created
    # Asking first means a mistyped bucket is one clear line here rather than an error on first read.
    try:
        found = store.client.bucket_exists(store.bucket)
    except Exception as error:  # whatever the client raises (refused, DNS, TLS, denied): one clear line
        raise InputError(f"cannot open the bucket: {type(error).__name__}: {_first_line(error)}", url) from None
    if not found:
        raise InputError("no such bucket (ingest reads buckets, it never creates one)", url)
    return store


def _first_line(error: Exception) -> str:
    return (str(error).splitlines() or [""])[0]
