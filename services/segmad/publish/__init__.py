"""Publishing models to TorchServe: build a .mar around the generic segmad handler, register it."""

from __future__ import annotations

import os
from pathlib import Path


def torchserve_dir() -> Path:
    """deploy/torchserve (handler and config): SEGMAD_TORCHSERVE_DIR, else the checkout's own folder."""
    given = os.environ.get("SEGMAD_TORCHSERVE_DIR")
    return Path(given) if given else Path(__file__).resolve().parents[3] / "deploy" / "torchserve"
