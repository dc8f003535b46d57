"""One thing to ingest: its name and how to read its bytes, or why it cannot be read."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from segmad.ingestion.normalise import Rejected


@dataclass(frozen=True)
class Input:
    """One thing to ingest: its name (recorded as the image's source) and how to read its bytes."""

    source: str
    read: Callable[[], bytes]  # raises Rejected when the bytes cannot be had


def _refuse(why: Rejected) -> bytes:
    raise why


def refused(source: str, why: Rejected) -> Input:
    """An input known to be unreadable: reading it raises `why`, so the run records it like any rejection."""
    return Input(source, functools.partial(_refuse, why))
