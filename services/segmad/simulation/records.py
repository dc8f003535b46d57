"""What a run on the synthetic world measured: per round, and for the whole run (the report's input)."""

from __future__ import annotations

from dataclasses import dataclass, field

from segmad.simulation.config import RunConfig
from segmad.world.annotators import Booking

TARGET = "target"  # the catalog name of the target model in a run on the world


@dataclass
class RoundRecord:
    """What catalog round N produced and measured (its target f_t^(N-1) mined M^(N))."""

    round: int
    candidates: list[str]
    counterexamples: list[str]
    test_set: list[str]
    mos: dict[str, float]
    true_miou: dict[str, float]  # target's true per-image mIoU on M
    t0: dict[str, float] = field(default_factory=dict)
    t: dict[str, float] = field(default_factory=dict)  # on T(N)
    wild: dict[str, float] = field(default_factory=dict)
    wild_shifted: dict[str, float] = field(default_factory=dict)
    finetune: dict = field(default_factory=dict)  # the metrics of v{N}, when round N trained one


@dataclass
class RunRecord:
    """Everything the report needs from a run."""

    config: RunConfig
    rounds: list[RoundRecord]
    baselines: dict[str, float]
    baselines_shifted: dict[str, float]  # the same on the shifted in-domain images of W
    bookings: list[tuple[str, int | None, Booking]]  # ("rating" | "mask" | "baseline-mask", catalog round, booking)
    pool_meta: dict[str, tuple[tuple[str, ...], bool]]  # image id -> (shifts, in_domain)
    zoo_scores: dict[str, dict]  # model -> {"arch", "t0", "wild"} of the v0 models
    wild_failures: dict[str, set[int]]  # model -> indices of W the model fails on (v0 models)
    random_precision: float
    timings: dict[str, float]
