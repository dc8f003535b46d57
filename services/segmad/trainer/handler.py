"""The trainer's logic: a plain function of the round events of one poll.

A RoundEvent "training" has the round's target fine-tuned, published and evaluated
(trainer/training.py); every other event is for other workers. An event about a round that is
already done (redelivered) only re-announces "done"; train_round never trains a round twice.
"""

from __future__ import annotations

import logging

from segmad import events
from segmad.ports.bus import ROUNDS, Message
from segmad.models.train import FinetuneConfig
from segmad.ports import Ports
from segmad.trainer.progress import Listener
from segmad.catalog.states import DONE, TRAINING
from segmad.trainer.training import train_round

TOPICS = (ROUNDS,)
log = logging.getLogger("segmad.trainer")


def parse(message: Message) -> events.RoundEvent:
    """The round event a message carries; MalformedMessage for another topic or unusable bytes."""
    if message.topic != ROUNDS:
        raise events.MalformedMessage(f"the trainer does not read topic {message.topic!r}")
    return events.from_bytes(events.RoundEvent, message.value)


class TrainerHandler:
    """Trains each round whose event says "training"; `trained` lists the rounds it finished."""

    def __init__(self, ports: Ports, config: FinetuneConfig, progress: Listener | None = None):
        self.ports, self.config, self.progress = ports, config, progress
        self.trained: list[int] = []

    def handle(self, batch: list[events.RoundEvent]) -> None:
        """Fine-tune every round of the poll that is (still) training; ignore the other events."""
        for event in batch:
            if event.state != TRAINING:
                continue
            row = self.ports.catalog.round(event.round)
            if row is None or row.state not in (TRAINING, DONE):
                # Nothing to train from yet (or any more): retrying the message would not change that.
                log.warning("round event ignored", extra={"round": event.round, "state": row and row.state})
                continue
            version = train_round(self.ports, event.round, self.config, self.progress)
            log.info("round trained", extra={"round": event.round, "version": version.version})
            self.trained.append(event.round)
