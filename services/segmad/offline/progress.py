"""A progress bar for `segmad select`: tqdm's when it is installed, else none (the core needs only numpy and Pillow)."""

from __future__ import annotations

import sys
from typing import Any


class _NoBar:
    """Stands in for a tqdm bar: the same context manager and `update`, showing nothing."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None


def bar(total: int, desc: str, progress: bool | None) -> Any:
    """A bar over `total` images; progress=None shows it only when stderr is a terminal (logs and pipes stay clean)."""
    if progress is False:
        return _NoBar()
    try:
        from tqdm import (
            tqdm,  # imported here: only a run that may show a bar pays for it
        )
    except ImportError:  # `pip install segmad` without extras: select still runs, silently
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="img", file=sys.stderr, disable=None if progress is None else not progress)
