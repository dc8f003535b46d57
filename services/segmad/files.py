"""Files that readers see whole: written beside their place under a temporary name, then renamed over it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_TEMP_SUFFIX = ".tmp"


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, then rename it over `path`; on error leave nothing."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{_TEMP_SUFFIX}")
    # os.open applies the umask as a plain open() would (mkstemp would make it 0600 instead).
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())  # on disk before the name points at it, or a power cut could leave it empty
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """`write_bytes_atomic` of `text` in UTF-8."""
    write_bytes_atomic(path, text.encode("utf-8"))


def is_temporary(name: str) -> bool:
    """Whether a file name is one of these temp files: a write under way, or one a crash left behind."""
    return name.startswith(".") and name.endswith(_TEMP_SUFFIX)
