"""The study's grid: which selector is fine-tuned at which budget on which world seed (issue 13)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

# The paper's selection and its cheaper rivals, fine-tuned at every budget of the grid.
BUDGETED = ("mad", "entropy", "random", "worst")
# What each part of MAD adds, and perfect ratings over M: fine-tuned at the ablation budget only.
# mad-spread and mad-dedup are improvements the paper leaves open (diversity in S, near-duplicates out of S).
ABLATIONS = ("mad-no-ratings", "mad-no-subgroups", "mad-1", "worst-in-M", "mad-adaptive", "mad-spread", "mad-dedup")
# Unlimited labelling with true masks, once per world seed: every true failure of D, and all of D.
CEILINGS = ("ceiling-failures", "ceiling-pool")
SELECTORS = BUDGETED + ABLATIONS + CEILINGS
WORLDS = ("default", "redundant")
SCENES_PER_POOL = 20  # the redundant world: D holds pool_size / 20 scenes, each seen about 20 times


@dataclass(frozen=True)
class StudyConfig:
    """One grid; the defaults are issue 13's full grid on the demo's pool."""

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)          # world seeds: D, W and the simulated annotators
    budgets: tuple[int, ...] = (25, 50, 100, 200, 400, 800)  # n4 for the budgeted selectors
    ablation_budget: int = 100
    finetune_seeds: tuple[int, ...] = (0,)            # repeats of each fine-tune with its own seed
    world: str = "default"                            # "default" | "redundant"
    pool_size: int = 5000
    wild_size: int = 2000
    n3: int = 25                                      # heap size at the paper's n4 = 100 (grows with n4)
    annotators: int = 3
    rating_noise: float = 0.5
    failure_threshold: float = 0.5                    # a true failure: in domain and target mIoU below this
    test_size: int = 30                               # |T| a round labels beside S (reported, not trained on)
    finetune: str = "demo"                            # the fine-tuning preset (segmad.trainer.training)
    finetune_max_steps: int | None = None
    lr: float | None = None                           # one initial lr instead of the preset's grid (halves the cost)
    s0_size: int | None = None                        # cut S0 and T0 (tests); None: the zoo's world's
    t0_size: int | None = None
    selectors: tuple[str, ...] = field(default=SELECTORS)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.selectors) - set(SELECTORS))
        if unknown:
            raise ValueError(f"unknown selectors {unknown}; known: {', '.join(SELECTORS)}")
        if self.world not in WORLDS:
            raise ValueError(f"world must be one of {', '.join(WORLDS)}, got {self.world!r}")
        if not self.seeds or not self.budgets or not self.finetune_seeds:
            raise ValueError("seeds, budgets and finetune seeds must each name at least one")
        if min(self.budgets) < 1 or self.ablation_budget < 1 or self.n3 < 1:
            raise ValueError("budgets and n3 must be at least 1")
        if self.annotators < 1:
            raise ValueError("annotators must be at least 1")

    @property
    def pool_scenes(self) -> int:
        """The world option: 0 for today's pool, else the number of scenes D repeats."""
        return 0 if self.world == "default" else max(1, self.pool_size // SCENES_PER_POOL)

    def n3_for(self, n4: int) -> int:
        """n3 grows with n4 so that M keeps the size per counterexample of the paper's n3 = 25 at n4 = 100."""
        return max(self.n3, math.ceil(self.n3 * n4 / 100))


SMALL = dict(seeds=(0, 1), budgets=(4, 8), ablation_budget=4, pool_size=60, wild_size=24, n3=2, annotators=3,
             finetune_max_steps=2, s0_size=32, t0_size=16)
MEDIUM = dict(seeds=(0, 1, 2), budgets=(25, 100, 400))


class Cell(NamedTuple):
    """One fine-tune of the grid: a selector's pick at a budget on a world seed, with a fine-tuning seed."""

    seed: int
    selector: str
    budget: int          # n4; 0 for a ceiling (its size is the pool's)
    finetune_seed: int

    def key(self, config: StudyConfig) -> str:
        """The cell's name in the results file: everything that decides its outcome."""
        steps = config.finetune_max_steps or "preset"
        lr = "" if config.lr is None else f"-lr{config.lr:g}"
        return (f"{config.world}/pool{config.pool_size}/wild{config.wild_size}/n3-{config.n3}/"
                f"{config.finetune}-{steps}{lr}/seed{self.seed}/{self.selector}/{self.budget}/ft{self.finetune_seed}")


def cells(config: StudyConfig) -> list[Cell]:
    """Every cell of the grid, world seed by world seed (a seed's predictions are made once, then reused)."""
    out = []
    for seed in config.seeds:
        for ft in config.finetune_seeds:
            out += [Cell(seed, s, b, ft) for s in BUDGETED if s in config.selectors for b in config.budgets]
            out += [Cell(seed, s, config.ablation_budget, ft) for s in ABLATIONS if s in config.selectors]
            out += [Cell(seed, s, 0, ft) for s in CEILINGS if s in config.selectors]
    return out
