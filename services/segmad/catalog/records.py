"""The catalog's rows as plain dataclasses: what the repository takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from segmad.mad import SizeBounds


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
class Campaigns:
    """The labelling campaigns of a round, by id: weak rating of M, then dense labelling of S ∪ T."""

    weak: int | None = None
    dense: int | None = None

    def opened(self) -> dict[str, int]:
        """The id of each campaign opened so far, by kind ("weak", "dense")."""
        return {kind: i for kind, i in (("weak", self.weak), ("dense", self.dense)) if i is not None}


@dataclass(frozen=True, eq=False)
class RoundSettings:
    """What the round commands record with a round (JSON in the catalog), so every worker reads the same.

    `round start` writes the mining parameters; `close-mining` the weak campaign; `select` the
    dense campaign, the mean opinion scores and the vetoed images.
    """

    bounds: SizeBounds | None = None  # p_k, q_k of each class
    num_classes: int | None = None  # C
    competitors: tuple[tuple[str, str], ...] = ()  # (name, version), mined against the target
    class_names: tuple[str, ...] = ()  # classes 1..C (background is implied)
    campaigns: Campaigns = Campaigns()
    measure_only: bool = False  # the last round of a run: T labelled, nothing trained
    out_of_domain: tuple[str, ...] = ()  # images the raters vetoed
    mos: dict[str, float | None] | None = None  # mean opinion score of each image of M (None: vetoed)

    def to_dict(self) -> dict:
        """The JSON form the catalog stores; what is unset is left out."""
        full = {"bounds": None if self.bounds is None else self.bounds.to_dict(), "num_classes": self.num_classes,
                "competitors": [list(c) for c in self.competitors], "class_names": list(self.class_names),
                "campaigns": self.campaigns.opened(),
                "measure_only": self.measure_only, "out_of_domain": list(self.out_of_domain), "mos": self.mos}
        return {key: value for key, value in full.items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict | None) -> "RoundSettings":
        """Inverse of `to_dict`; a key missing (a row written before it existed) takes its default."""
        data = {key: value for key, value in (data or {}).items() if value is not None}
        campaigns = data.get("campaigns", {})
        return cls(bounds=SizeBounds.from_dict(data["bounds"]) if "bounds" in data else None,
                   num_classes=data.get("num_classes"),
                   competitors=tuple((name, version) for name, version in data.get("competitors", ())),
                   class_names=tuple(data.get("class_names", ())),
                   campaigns=Campaigns(campaigns.get("weak"), campaigns.get("dense")),
                   measure_only=bool(data.get("measure_only", False)),
                   out_of_domain=tuple(data.get("out_of_domain", ())), mos=data.get("mos"))

    def __eq__(self, other) -> bool:
        # By value: the bounds are numpy arrays, which == does not reduce to one bool.
        return isinstance(other, RoundSettings) and self.to_dict() == other.to_dict()


@dataclass(frozen=True)
class Round:
    round: int
    state: str
    target: str
    target_version: str
    n3: int
    n4: int
    settings: RoundSettings
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
