"""Ingest many inputs, read and stored concurrently, with a progress bar and a summary of what became of them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from segmad.ingestion.flow import ingest_stream
from segmad.ingestion.limits import Limits
from segmad.ingestion.normalise import Rejected
from segmad.ingestion.outcome import DUPLICATE, INGESTED, Outcome, rejection
from segmad.ingestion.service import prepare_bytes
from segmad.ingestion.sources import Input
from segmad.ingestion.store import Prepared
from segmad.ports import Ports


@dataclass
class Summary:
    """Counts of ingested, duplicate and rejected inputs, and each rejection."""

    ingested: int = 0
    duplicates: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    rejections: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)

    def add(self, outcome: Outcome) -> None:
        """Count one outcome."""
        if outcome.status == INGESTED:
            self.ingested += 1
        elif outcome.status == DUPLICATE:
            self.duplicates += 1
        else:
            self.rejected_by_reason[outcome.reason_code] += 1
            self.rejections.append((outcome.source, outcome.reason))

    def to_json(self) -> dict:
        """The summary as `--format json` prints it."""
        return {
            "ingested": self.ingested,
            "duplicates": self.duplicates,
            "rejected": sum(self.rejected_by_reason.values()),
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "rejections": [{"source": s, "reason": r} for s, r in self.rejections],
        }


def prepare_input(item: Input, limits: Limits) -> Prepared | Outcome:
    """Read one input and make it ready to store; a failed read, or any failure of this input alone, is its rejection."""
    try:
        data = item.read()
    except Rejected as why:
        return rejection(item.source, why)
    except Exception as error:  # no input stops a run: what the sources did not foresee is recorded too
        return rejection(item.source, Rejected("unreadable", f"{type(error).__name__}: {error}"))
    return prepare_bytes(data, item.source, limits=limits)


def ingest_all(ports: Ports, items: Sequence[Input], limits: Limits = Limits(), progress: bool = False) -> Summary:
    """Ingest every input (read and normalised concurrently, stored by batches); every announcement is on the bus
    when it returns."""
    summary = Summary()
    outcomes = ingest_stream(ports, items, lambda item: prepare_input(item, limits))
    for outcome in tqdm(outcomes, total=len(items), desc="ingest", unit="file", disable=not progress):
        summary.add(outcome)
    return summary
