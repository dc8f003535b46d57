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
    # The S3 adapter creates its bucket on first use, which suits writing; asking first means a
    # mistyped bucket is an error here instead of a new, empty bucket.
    try:
        found = store.client.bucket_exists(store.bucket)
    except Exception as error:  # whatever the client raises (refused, DNS, TLS, denied): one clear line
        raise InputError(f"cannot open the bucket: {type(error).__name__}: {_first_line(error)}", url) from None
    if not found:
        raise InputError("no such bucket (ingest reads buckets, it never creates one)", url)
    return store


def _first_line(error: Exception) -> str:
    return (str(error).splitlines() or [""])[0]
