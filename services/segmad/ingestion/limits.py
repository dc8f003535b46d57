"""What ingestion accepts: bytes per file, pixels per image, the shortest and longest side."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from PIL import Image


@dataclass(frozen=True)
class Limits:
    """Bounds an image must meet; override from SEGMAD_INGEST_<FIELD> or the command line."""

    min_side: int = 32
    max_side: int = 16384
    # Below Pillow's own bomb threshold, so our check refuses from the header before Pillow warns.
    max_pixels: int = min(64_000_000, Image.MAX_IMAGE_PIXELS or 64_000_000)
    max_bytes: int = 64 * 1024 * 1024

    def __post_init__(self):
        for f in fields(self):
            if getattr(self, f.name) < 1:
                raise ValueError(f"{f.name} must be at least 1")
        if self.min_side > self.max_side:
            raise ValueError("min_side must not exceed max_side")


def limits_from_env(environ=os.environ) -> Limits:
    """Limits with any SEGMAD_INGEST_MIN_SIDE, _MAX_SIDE, _MAX_PIXELS, _MAX_BYTES set in the environment."""
    given = {f.name: int(environ[f"SEGMAD_INGEST_{f.name.upper()}"])
             for f in fields(Limits) if f"SEGMAD_INGEST_{f.name.upper()}" in environ}
    return Limits(**given)
