"""`segmad serve trainer`: the trainer as a service (consumer group "trainer"), progress as Prometheus gauges.

A fine-tuning holds its poll for minutes (the loop commits the event only once the round is done),
so the consumer tells the bus so: MAX_TRAINING_S becomes Kafka's max.poll.interval.ms for this
group. kafka-python's heartbeat thread keeps the member in its group meanwhile; were the limit
passed, the member would leave the group, its commit would fail, and the redelivered event would
find v{N} stored and only finish the round.
"""

from __future__ import annotations

import logging

from prometheus_client import Gauge

from segmad import settings
from segmad.trainer.training import finetune_config
from segmad.runtime.worker import WorkerMetrics, serve_worker
from segmad.trainer.handler import TOPICS, TrainerHandler, parse

MAX_TRAINING_S = 6 * 3600  # the paper's recipe on a CPU takes tens of minutes per round; hours is a hang


class TrainingGauges:
    """segmad_trainer_* gauges of the training in progress."""

    def __init__(self, metrics: WorkerMetrics):
        registry = metrics.registry
        self.round = Gauge("segmad_trainer_round", "Round being (or last) trained", registry=registry)
        self.active = Gauge("segmad_trainer_active", "1 while a round is being trained", registry=registry)
        self.lr = Gauge("segmad_trainer_lr", "Initial learning rate of the grid being tried", registry=registry)
        self.current_lr = Gauge("segmad_trainer_current_lr", "Learning rate of the last step", registry=registry)
        self.step = Gauge("segmad_trainer_step", "Steps taken with this learning rate", registry=registry)
        self.steps = Gauge("segmad_trainer_steps", "Steps per learning rate", registry=registry)
        self.loss = Gauge("segmad_trainer_loss", "Loss of the last step", registry=registry)
        self.t0_miou = Gauge("segmad_trainer_t0_miou", "T0 mIoU after each learning rate of the grid", ["lr"],
                             registry=registry)

    def update(self, record: dict) -> None:
        """Show a progress record (trainer/progress.py)."""
        self.round.set(record["round"])
        self.active.set(0 if record["phase"] in ("done", "failed") else 1)
        for gauge, key in ((self.lr, "lr"), (self.current_lr, "current_lr"), (self.step, "step"),
                           (self.steps, "steps"), (self.loss, "loss")):
            if record.get(key) is not None:
                gauge.set(record[key])
        for lr, miou in record["t0_miou_by_lr"].items():
            self.t0_miou.labels(lr=lr).set(miou)


def serve(host: str, port: int, workers: int = 1, threads: int = 1) -> int:
    """Consume round events with one member until SIGTERM (`workers` and `threads` are not used).

    One member: one CPU box trains one round at a time, and rounds come one after another.
    SIGTERM lets a training in progress finish; a kill leaves the round to be retrained on restart.
    """
    if workers != 1:
        logging.getLogger("segmad.trainer").warning("the trainer runs one member; --workers ignored")
    current = settings.load()
    config = finetune_config(current.finetune, current.finetune_max_steps)  # a bad preset fails at start
    metrics = WorkerMetrics("trainer")
    gauges = TrainingGauges(metrics)
    return serve_worker("trainer", TOPICS, parse, lambda ports: TrainerHandler(ports, config, gauges.update),
                        host, port, members=1, metrics=metrics, max_handle_s=MAX_TRAINING_S)
