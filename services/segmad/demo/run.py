"""The embedded demo: Algorithm 1 on the synthetic world in one process, on the embedded adapters.

The rounds are the controller's and the trainer's, as on the services: between the controller's
steps the workers' stages run here one after another (predict, mine), the trainer's `train_round`
fine-tunes, and the simulated people rate and paint through the labelling service's own views
in process. `segmad e2e` plays the same rounds over running services.
"""

from __future__ import annotations

import time
from typing import Callable

from torch import nn
from tqdm import tqdm

from segmad.pipeline.models import ensure_loaded
from segmad.labelling import create_app
from segmad.labelling.simulate import simulate_campaign
from segmad.models.train import FinetuneConfig
from segmad.ports import Ports
from segmad.rounds import control
from segmad.pipeline import stages
from segmad.trainer.training import train_round
from segmad.simulation.measures import Measures
from segmad.simulation.play import play, seed
from segmad.simulation.records import RunRecord
from segmad.world.annotators import AnnotatorConfig


class InProcess:
    """The workers' stages and the trainer, called in this process when the controller hands over."""

    def __init__(self, ports: Ports, recipe: FinetuneConfig, batch_size: int, progress: bool):
        self.ports, self.recipe, self.batch_size, self.progress = ports, recipe, batch_size, progress

    def mine(self, round_: int) -> None:
        """What the inference and discrepancy workers do for a started round, in one pass."""
        mining, _ = control.mined(self.ports, round_)
        images = sorted(self.ports.catalog.image_ids())
        for ref in (mining.target, *mining.competitors):  # maps already stored are skipped
            classes = ensure_loaded(self.ports, ref, mining.num_classes)
            stages.predict(self.ports, ref, images, classes, self.batch_size, self.progress)
        pool = [x for x in images if x not in mining.excluded]
        stages.mine(self.ports, round_, mining.target, mining.competitors, pool, mining.bounds, mining.n3,
                    self.progress)

    def train(self, round_: int) -> None:
        """What the trainer service does when a round enters training."""
        train_round(self.ports, round_, self.recipe, _training_bar() if self.progress else None)


class InProcessPeople:
    """The simulated annotators, working through the labelling service's views without a socket."""

    def __init__(self, ports: Ports, database_url: str, measures: Measures, tokens: dict[str, str]):
        self.app = create_app({"DATABASE_URL": database_url, "BLOB_STORE": ports.blobs, "SECRET_KEY": "embedded"})
        config = measures.config
        self.world, self.tokens = measures.wild_world, tokens
        self.people = AnnotatorConfig(count=config.annotators, seed=config.seed, rating_noise=config.rating_noise)

    def work(self, campaign_id: int) -> None:
        simulate_campaign("", campaign_id, self.tokens, self.world, self.people, app=self.app)


def run_embedded(ports: Ports, database_url: str, measures: Measures, zoo: dict[str, nn.Module],
                 recipe: FinetuneConfig, progress: bool = True, say: Callable[[str], None] = print) -> RunRecord:
    """Seed the store, play every round, measure; what the report needs."""
    config, clock, timings = measures.config, time.perf_counter(), {}
    tokens = seed(ports, measures, zoo, progress=progress)
    timings["ingest"] = time.perf_counter() - clock
    records = play(ports, measures, InProcess(ports, recipe, config.batch_size, progress),
                   InProcessPeople(ports, database_url, measures, tokens), say)
    timings["rounds"] = time.perf_counter() - clock - timings["ingest"]
    run = measures.run(records, timings, baselines=config.baselines)
    run.timings["baselines"] = time.perf_counter() - clock - sum(timings.values())
    return run


def _training_bar() -> Callable[[dict], None]:
    """A trainer progress listener that shows each learning rate's steps as a bar."""
    shown: dict = {}

    def listen(record: dict) -> None:
        if record["phase"] != "fine-tuning" or not record["steps"]:
            if "bar" in shown:  # fine-tuning is over
                shown.pop("bar").close()
                shown.pop("lr")
            return
        if shown.get("lr") != record["lr"]:
            if "bar" in shown:
                shown["bar"].close()
            shown.update(lr=record["lr"], bar=tqdm(total=record["steps"], desc=f"fine-tune lr {record['lr']:g}",
                                                   leave=False))
        shown["bar"].n = record["step"]
        shown["bar"].set_postfix(loss=record["loss"], refresh=True)
    return listen
