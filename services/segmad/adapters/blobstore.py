"""The blob store's embedded adapter: a local directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from segmad.files import is_temporary, write_bytes_atomic
from segmad.ports.blobs import BlobNotFound, BlobStore, check_key


class LocalBlobStore(BlobStore):
    """Blobs as files under one directory (the embedded default)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, data)  # a crash never leaves a half-written blob under the key

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str = "") -> Iterator[str]:
        found = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not is_temporary(p.name)
        )
        return iter(sorted(k for k in found if k.startswith(prefix)))
