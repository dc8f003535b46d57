"""What ingestion accepts: bytes per file, pixels per image, the shortest and longest side."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

from PIL import Image


def env_name(field: str) -> str:
    """The environment variable that sets a limit: min_side -> SEGMAD_INGEST_MIN_SIDE."""
    return f"SEGMAD_INGEST_{field.upper()}"


def _check(values: Mapping[str, int], label: Callable[[str], str] = str) -> None:
    """ValueError if `values` cannot be limits, naming each field at fault as `label` spells it for the user."""
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{label(name)} must be at least 1, got {value}")
    if values["min_side"] > values["max_side"]:
        raise ValueError(f"{label('min_side')} must not exceed {label('max_side')}"
                         f" ({values['min_side']} > {values['max_side']})")


@dataclass(frozen=True)
class Limits:
    """Bounds an image must meet; override from SEGMAD_INGEST_<FIELD> or the command line."""

    min_side: int = 32
    max_side: int = 16384
    # Below Pillow's own bomb threshold, so our check refuses from the header before Pillow warns.
    max_pixels: int = min(64_000_000, Image.MAX_IMAGE_PIXELS or 64_000_000)
    max_bytes: int = 64 * 1024 * 1024

    def __post_init__(self):
        _check(self.__dict__)


def checked_limits(values: Mapping[str, int], label: Callable[[str], str]) -> Limits:
    """Limits with `values` over the defaults; ValueError naming a field at fault as `label` spells it."""
    merged = {**Limits().__dict__, **values}
    _check(merged, label)
    return Limits(**merged)


def env_values(environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    """The limits set as SEGMAD_INGEST_<FIELD> in `environ`, by field; ValueError naming one that is not an integer."""
    given = {}
    for f in fields(Limits):
        if (text := environ.get(env_name(f.name))) is not None:
            try:
                given[f.name] = int(text)
            except ValueError:
                raise ValueError(f"{env_name(f.name)} must be an integer, got {text!r}") from None
    return given


def limits_from_env(environ: Mapping[str, str] = os.environ) -> Limits:
    """Limits with any SEGMAD_INGEST_MIN_SIDE, _MAX_SIDE, _MAX_PIXELS, _MAX_BYTES set in the environment."""
    return checked_limits(env_values(environ), env_name)
