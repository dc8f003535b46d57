"""The round being mined: its target, competitors, size bounds and n3, as stored with the round.

`segmad round start` writes these into the round's settings so that every worker, started at
any time, mines with exactly the same parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from segmad.ports.segmenter import ModelRef
from segmad.catalog import Catalog
from segmad.catalog.records import Round
from segmad.mad import SizeBounds
from segmad.catalog.states import MINING

LABELLED_KINDS = ("counterexamples", "test")  # images labelled in a round are not mined again


@dataclass(frozen=True)
class MiningRound:
    """Everything a discrepancy worker needs to mine one round."""

    round: int
    target: ModelRef
    competitors: tuple[ModelRef, ...]
    bounds: SizeBounds
    n3: int
    excluded: frozenset[str]

    @property
    def num_classes(self) -> int:
        """C, from the size bounds."""
        return self.bounds.num_classes


def current_round(catalog: Catalog) -> Round | None:
    """The latest round still mining, if any."""
    mining = [r for r in catalog.rounds() if r.state == MINING]
    return mining[-1] if mining else None


def excluded_images(catalog: Catalog, round_: int) -> frozenset[str]:
    """Images labelled in earlier rounds, and images no model can predict (marked unusable)."""
    labelled = (i for r in catalog.rounds() if r.round < round_
                for kind in LABELLED_KINDS for i in catalog.round_images(r.round, kind))
    return frozenset(labelled) | frozenset(catalog.unusable_images())


def mining_round(catalog: Catalog, row: Round) -> MiningRound:
    """The mining parameters of a catalogued round; ValueError if it was not started by `round start`."""
    settings = row.settings
    if settings.bounds is None or not settings.competitors:
        raise ValueError(f"round {row.round} has no size bounds or competitors in its settings")
    competitors = tuple(ModelRef(name, version) for name, version in settings.competitors)
    return MiningRound(row.round, ModelRef(row.target, row.target_version), competitors, settings.bounds, row.n3,
                       excluded_images(catalog, row.round))
