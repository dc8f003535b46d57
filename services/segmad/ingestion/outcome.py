"""What became of one input: ingested, duplicate (its content was there already) or rejected (with a reason)."""

from __future__ import annotations

from dataclasses import dataclass

from segmad.ingestion.normalise import Rejected

INGESTED, DUPLICATE, REJECTED = "ingested", "duplicate", "rejected"


@dataclass(frozen=True)
class Outcome:
    """What became of one input: ingested, duplicate (content already there) or rejected (with a reason)."""

    source: str
    status: str
    image_id: str | None = None
    reason: str | None = None  # "code: detail" for a rejection

    @property
    def reason_code(self) -> str | None:
        """The reason's short code, for counting."""
        return self.reason.split(":", 1)[0] if self.reason else None


def rejection(source: str, why: Rejected) -> Outcome:
    """The outcome of refusing `source` (recorded in the catalog when its batch is stored)."""
    return Outcome(source, REJECTED, reason=str(why))
