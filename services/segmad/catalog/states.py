"""The life of a round (Algorithm 1, one iteration) as a state machine stored in the catalog.

mining → weak-rating → dense-labelling → training → done. Each command that moves a round on
names the state it needs; asked out of order, it refuses and says what must happen first.
"""

from __future__ import annotations

from segmad.errors import InputError

MINING = "mining"                    # `round start`: workers predict and fill the heaps
WEAK_RATING = "weak-rating"          # `round close-mining`: M frozen, people rate the target on M
DENSE_LABELLING = "dense-labelling"  # `round select`: S and T chosen, people paint S ∪ T
TRAINING = "training"                # `round finetune`: the trainer fine-tunes on S ∪ S0
DONE = "done"                        # the trainer registered f_t^(i+1) (or the round only measured)

STATES = (MINING, WEAK_RATING, DENSE_LABELLING, TRAINING, DONE)

# What a round in each state waits for, as a user would do it.
WAITING_FOR = {
    MINING: "mining must be closed first: `segmad round close-mining {n}`",
    WEAK_RATING: "the weak-rating campaign must be rated, then `segmad round select {n}`",
    DENSE_LABELLING: "S ∪ T must be densely labelled and reviewed, then `segmad round finetune {n}`",
    TRAINING: "the trainer is fine-tuning; wait until `segmad round status {n}` says done",
    DONE: "round {n} is finished",
}


def require(round_: int, state: str, needed: str, command: str) -> None:
    """InputError unless a round is in the state a command needs, saying what must happen first."""
    if state == needed:
        return
    if STATES.index(state) > STATES.index(needed):
        raise InputError(f"round {round_} is already past {needed} (state {state}); `{command}` was done before")
    raise InputError(f"round {round_} is in state {state}; `{command}` needs {needed}: "
                     + WAITING_FOR[state].format(n=round_))
