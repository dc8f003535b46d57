"""The blob store on S3 (MinIO, SeaweedFS, AWS) through the `minio` client."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator
from urllib.parse import urlparse

from minio import Minio
from minio.error import S3Error

from segmad.ports.blobs import BlobNotFound, BlobStore, check_key

_MISSING = ("NoSuchKey", "NoSuchObject")
TRANSFERS = 8  # concurrent requests of put_many / get_many


def client_for(endpoint: str, access_key: str = "", secret_key: str = "") -> Minio:
    """A client for an http(s)://host:port endpoint; no keys means anonymous access."""
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"expected an http(s)://host:port S3 endpoint, got {endpoint!r}")
    return Minio(parsed.netloc, access_key=access_key or None, secret_key=secret_key or None,
                 secure=parsed.scheme == "https")


def split_blob_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of s3://bucket[/prefix]."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"expected s3://bucket[/prefix], got {url!r}")
    return parsed.netloc, parsed.path.strip("/")


class S3BlobStore(BlobStore):
    """Blobs as objects `prefix/key` in one bucket; the bucket is created on first use if missing
    (unless `create_bucket` is False, for a store that is only read: then a missing bucket is a LookupError)."""

    def __init__(self, client: Minio, bucket: str, prefix: str = "", create_bucket: bool = True):
        self.client, self.bucket, self.create_bucket = client, bucket, create_bucket
        self.prefix = f"{check_key(prefix.strip('/'))}/" if prefix.strip("/") else ""
        # Checked on first use, not here: building the adapters must not need a live server.
        self._bucket_ready = False
        self._lock = threading.Lock()
        # Started on first use. The minio client is thread-safe; its pool keeps 10 connections per host.
        self._pool = ThreadPoolExecutor(TRANSFERS, thread_name_prefix="s3")

    def _name(self, key: str) -> str:
        if not self._bucket_ready:
            with self._lock:
                if not self._bucket_ready:
                    if not self.client.bucket_exists(self.bucket):
                        if not self.create_bucket:
                            raise LookupError(f"no such bucket: {self.bucket}")
                        try:
                            self.client.make_bucket(self.bucket)
                        except S3Error as error:
                            if error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                                raise
                    self._bucket_ready = True
        return self.prefix + key

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        # One PUT is atomic on S3: readers see the old object or the new one, never a part.
        self.client.put_object(self.bucket, self._name(check_key(key)), io.BytesIO(data), len(data),
                               content_type=content_type)

    def put_many(self, items: Iterable[tuple[str, bytes]], content_type: str = "application/octet-stream") -> None:
        # Small objects cost a round trip each: overlapping them is what makes a batch quick.
        list(self._pool.map(lambda item: self.put(item[0], item[1], content_type), items))

    def get_many(self, keys: Iterable[str]) -> list[bytes]:
        return list(self._pool.map(self.get, keys))

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(self.bucket, self._name(check_key(key)))
        except S3Error as error:
            if error.code in _MISSING:
                raise BlobNotFound(key) from None
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, self._name(check_key(key)))
        except S3Error as error:
            if error.code in _MISSING:
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, self._name(check_key(key)))

    def keys(self, prefix: str = "") -> Iterator[str]:
        listed = self.client.list_objects(self.bucket, prefix=self._name(prefix), recursive=True)
        # S3 lists in byte order already; sorting keeps the promise for any server.
        return iter(sorted(o.object_name[len(self.prefix):] for o in listed if not o.is_dir))
