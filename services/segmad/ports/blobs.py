"""The blob-store port: immutable byte blobs under safe string keys."""

from __future__ import annotations

import abc
import re
from typing import Iterable, Iterator

# Keys are slash-separated names of safe characters: never a way out of the store.
_KEY = re.compile(r"^[A-Za-z0-9._=-]+(/[A-Za-z0-9._=-]+)*$")


def check_key(key: str) -> str:
    """The key itself if it is a safe relative name; ValueError otherwise."""
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"invalid blob key {key!r}")
    return key


class BlobNotFound(KeyError):
    """No blob under that key."""


class BlobStore(abc.ABC):
    """Immutable byte blobs under string keys (images, label maps, checkpoints)."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store `data` under `key`, replacing any blob there; atomic for readers."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes under `key`; BlobNotFound if there are none."""

    def put_many(self, items: Iterable[tuple[str, bytes]], content_type: str = "application/octet-stream") -> None:
        """Store each (key, data); every put has finished when this returns (one at a time by default)."""
        for key, data in items:
            self.put(key, data, content_type)

    def get_many(self, keys: Iterable[str]) -> list[bytes]:
        """The bytes under each key, in order; BlobNotFound if one is missing (one at a time by default)."""
        return [self.get(key) for key in keys]

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether a blob is stored under `key`."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the blob under `key` if there is one."""

    @abc.abstractmethod
    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with `prefix`, sorted."""
