"""Every knob of a run on the synthetic world in one place (the CLIs override them; the summary records them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunConfig:
    """A run of Algorithm 1 on the synthetic world with simulated annotators."""

    seed: int = 0               # the pool D, the wild set W and the annotators; the zoo keeps its own seed
    pool_size: int = 5000       # |D|: fits the 8-minute budget on 2 cores (the world can make 40,000; --pool-size)
    wild_size: int = 2000       # |W|
    rounds: int = 2             # fine-tuning rounds r (so r + 1 mining rounds)
    n3: int = 25                # heap size per (competitor, class, partition)
    n4: int = 100               # counterexamples S per round
    test_size: int = 30         # |T| per round
    annotators: int = 3
    rating_noise: float = 0.5
    finetune: str = "demo"      # fine-tuning preset: "demo" (fits the CPU) or "paper"
    finetune_max_steps: int | None = None  # cap on steps per learning rate (None: the preset's)
    baselines: bool = True      # also fine-tune once from entropy and random selections (Table 2)
    batch_size: int = 256       # inference batch
    failure_threshold: float = 0.5  # an image is a true failure of the target when its mIoU is below this
