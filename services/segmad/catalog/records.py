"""The catalog's rows as plain dataclasses: what the repository takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Image:
    image_id: str
    sha256: str
    width: int
    height: int
    source: str
    blob_key: str
    ingested_at: datetime | None = None  # None: the time it is added


@dataclass(frozen=True)
class Rejection:
    source: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    arch: str
    role: str  # "target" or "competitor"
    blob_key: str
    parent_version: str | None = None
    trained_on_round: int | None = None
    metrics: dict = field(default_factory=dict)
    created_at: datetime | None = None  # None: the time it is added


@dataclass(frozen=True)
class Prediction:
    image_id: str
    model: str
    version: str
    blob_key: str
    fractions: list[float]  # pixel fraction of each label 0..C
    entropy: float | None = None


@dataclass(frozen=True)
class Round:
    round: int
    state: str
    target: str
    target_version: str
    n3: int
    n4: int
    settings: dict
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Evaluation:
    round: int
    model: str
    version: str
    split: str
    miou: float
    per_class: list | dict
