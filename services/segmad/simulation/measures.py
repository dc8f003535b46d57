"""What only a run on the synthetic world can measure: truth, W and its shifted part, precision, baselines, galleries.

Models are measured in this process, loaded from the checkpoints the catalog names, whichever
adapters ran the rounds (in process or over the services). The rounds' own numbers (M, S, T,
MOS, T0 and T(N) scores, the trainer's history) are read from the catalog, where the controller
and the trainer put them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np

from segmad.adapters.segmenter import TorchSegmenter

from segmad.ports.segmenter import ModelRef
from segmad.errors import InputError
from segmad.pipeline.models import load_module
from segmad.labelling.stats import work_log
from segmad.mad import (ConfusionMatrix, class_fractions, discrepancy, select_by_entropy, select_random,
                        size_bounds)
from segmad.models.train import finetune
from segmad.ports import Ports
from segmad.pipeline import stages
from segmad.catalog.states import DONE
from segmad.simulation.config import RunConfig
from segmad.simulation.records import TARGET, RoundRecord, RunRecord
from segmad.trainer.training import finetune_config
from segmad.world import WorldConfig, sample, stack
from segmad.world.annotators import AnnotatorConfig, Booking, SimulatedAnnotators

RUN_KEY = "runs/world.json"  # the run's config and worlds, so a later `segmad round report` can measure it

PoolMeta = dict[str, tuple[tuple[str, ...], bool]]  # image id -> (shift factors, in domain)


def pool_meta(world: WorldConfig, count: int) -> PoolMeta:
    """Each pool image's shifts and domain (the world regenerates them)."""
    return {x.image_id: (x.shifts, x.in_domain) for x in (sample(world, "pool", i) for i in range(count))}


class Measures:
    """Measurements of one run's models against the world's truth."""

    def __init__(self, ports: Ports, config: RunConfig, train_world: WorldConfig, wild_world: WorldConfig,
                 progress: bool = False):
        self.ports, self.config, self.progress = ports, config, progress
        self.train_world, self.wild_world = train_world, wild_world
        self.C = train_world.num_classes
        self.s0 = stack(train_world, "s0", range(train_world.s0_size))
        self.t0 = stack(train_world, "t0", range(train_world.t0_size))
        self.wild = stack(wild_world, "wild", range(config.wild_size))
        # The part of W where failures live: in-domain images carrying a shift factor.
        self.wild_shifted = np.array([bool(x.shifts) and x.in_domain
                                      for x in (sample(wild_world, "wild", i) for i in range(config.wild_size))])
        self.bounds = size_bounds(np.stack([class_fractions(m, self.C) for m in self.s0[1]]), self.C)
        self.segmenter = TorchSegmenter()
        self._on_split: dict[tuple[ModelRef, str], np.ndarray] = {}
        self.baselines_shifted: dict[str, float] = {}
        self.baseline_bookings: list[tuple[str, int | None, Booking]] = []

    @functools.cached_property
    def pool_meta(self) -> PoolMeta:
        """Each pool image's shifts and domain: regenerated when first needed, unless the run's seeding
        recorded them while it ingested the pool (`seed` assigns this attribute)."""
        return pool_meta(self.wild_world, self.config.pool_size)

    @property
    def pool_ids(self) -> list[str]:
        """D's image ids, sorted."""
        return sorted(self.pool_meta)

    # -- models and their scores ------------------------------------------------------------------

    def loaded(self, ref: ModelRef) -> ModelRef:
        """Load a catalogued model version from its checkpoint into this process (once)."""
        if ref not in self.segmenter.models():
            self.segmenter.register(ref.name, ref.version, load_module(self.ports, ref, self.C))
        return ref

    def competitors(self) -> list[ModelRef]:
        """The v0 competitors the run started with."""
        return [ModelRef(m.name, m.version) for m in self.ports.catalog.model_versions()
                if m.role == "competitor" and m.version == "v0"]

    def truth(self, image_id: str) -> np.ndarray:
        """The true mask of a pool image (the world regenerates it)."""
        return sample(self.wild_world, "pool", int(image_id.rsplit("-", 1)[1])).mask

    def predictions(self, ref: ModelRef, images: np.ndarray) -> np.ndarray:
        """A model version's label maps of a set of images."""
        self.loaded(ref)
        size = self.config.batch_size
        return np.concatenate([self.segmenter.predict(ref.name, ref.version, images[i:i + size])
                               for i in range(0, len(images), size)])

    def on_split(self, ref: ModelRef, split: str) -> np.ndarray:
        """Label maps of T0 or W by a model version, predicted once and kept (W serves several measures)."""
        if (ref, split) not in self._on_split:
            self._on_split[ref, split] = self.predictions(ref, (self.t0 if split == "t0" else self.wild)[0])
        return self._on_split[ref, split]

    def split_miou(self, ref: ModelRef, split: str) -> float:
        """Dataset mIoU on T0 or W."""
        return miou(self.on_split(ref, split), (self.t0 if split == "t0" else self.wild)[1], self.C)

    def shifted_miou(self, ref: ModelRef) -> float:
        """Dataset mIoU on the shifted in-domain images of W."""
        keep = self.wild_shifted
        return miou(self.on_split(ref, "wild")[keep], self.wild[1][keep], self.C) if keep.any() else float("nan")

    # -- rounds, as the catalog holds them ----------------------------------------------------------

    def record(self, round_: int) -> RoundRecord:
        """What catalog round N did (from the catalog) and how its models score (T0, T(N) stored; W measured)."""
        catalog = self.ports.catalog
        row = catalog.round(round_)
        target = ModelRef(row.target, row.target_version)
        candidates = catalog.round_images(round_, "candidates")
        mos = {x: (math.inf if s is None else s) for x, s in row.settings.mos.items()}
        true_miou = {x: 1.0 - discrepancy(stages.load_prediction(self.ports, target, x), self.truth(x))
                     for x in candidates}
        record = RoundRecord(round_, sorted(candidates), catalog.round_images(round_, "counterexamples"),
                             catalog.round_images(round_, "test"), mos, true_miou)
        stored = {(e.model, e.version, e.split): e.miou for e in catalog.evaluations(round_)}
        for ref in [target] + self.competitors():
            record.t0[ref.name] = stored.get((ref.name, ref.version, "t0"), float("nan"))
            record.t[ref.name] = stored.get((ref.name, ref.version, f"t{round_}"), float("nan"))
            record.wild[ref.name] = self.split_miou(ref, "wild")
            record.wild_shifted[ref.name] = self.shifted_miou(ref)
        trained = catalog.model_version(row.target, f"v{round_}")
        if trained is not None and trained.trained_on_round == round_:
            record.finetune = dict(trained.metrics)
        return record

    def done_rounds(self) -> list[RoundRecord]:
        """The records of every round the catalog holds as done."""
        records = [self.record(r.round) for r in self.ports.catalog.rounds() if r.state == DONE]
        if not records:
            raise InputError("no round is done yet: the report needs at least one finished round")
        return records

    def bookings(self) -> list[tuple[str, int | None, Booking]]:
        """The annotation work the labelling service recorded, then the baselines' simulated masks."""
        with self.ports.catalog.connect() as conn:
            work = [(kind, round_, Booking(name, image_id, seconds))
                    for kind, round_, name, image_id, seconds in work_log(conn)]
        return work + self.baseline_bookings

    # -- what the world's truth alone can tell ------------------------------------------------------

    def baselines(self, records: list[RoundRecord]) -> dict[str, float]:
        """Table 2: from f_t^(0), one fine-tune on entropy's and on random's picks, MAD's dense budget; W mIoU."""
        v0, budget = ModelRef(TARGET, "v0"), len(records[0].counterexamples)
        entropy = {p.image_id: p.entropy for p in self.ports.catalog.predictions_for_model_version(*v0)}
        selections = {"entropy": select_by_entropy(entropy, budget),
                      "random": select_random(self.pool_ids, budget, seed=self.config.seed)}
        scores = {"mad": records[1].wild[TARGET] if len(records) > 1 else float("nan")}
        self.baselines_shifted = {"mad": records[1].wild_shifted[TARGET] if len(records) > 1 else float("nan")}
        people = SimulatedAnnotators(AnnotatorConfig(self.config.annotators, self.config.seed, self.config.rating_noise))
        recipe = finetune_config(self.config.finetune, self.config.finetune_max_steps)
        for method, chosen in selections.items():
            self.baseline_bookings += [("baseline-mask", None, people.paint(n % self.config.annotators, x, self.truth(x))[1])
                                       for n, x in enumerate(chosen)]
            model, _ = finetune(load_module(self.ports, v0, self.C), stages.load_images(self.ports, chosen),
                                np.stack([self.truth(x) for x in chosen]), *self.s0, *self.t0, recipe,
                                progress=self.progress)
            ref = ModelRef(TARGET, f"v1-{method}")  # measured here only: a baseline never serves the rounds
            self.segmenter.register(ref.name, ref.version, model)
            scores[method] = self.split_miou(ref, "wild")
            self.baselines_shifted[method] = self.shifted_miou(ref)
        return scores

    def wild_failures(self) -> dict[str, set[int]]:
        """Per v0 model, the W images it fails on (true per-image mIoU below the threshold)."""
        masks = self.wild[1]
        return {ref.name: {n for n, p in enumerate(self.on_split(ref, "wild"))
                           if 1.0 - discrepancy(p, masks[n]) < self.config.failure_threshold}
                for ref in [ModelRef(TARGET, "v0")] + self.competitors()}

    def random_precision(self, first: RoundRecord) -> float:
        """Share of true failures of f_t^(0) in a random sample of D as large as M(1)."""
        chosen = select_random(self.pool_ids, max(len(first.candidates), 1), seed=self.config.seed + 1)
        v0 = ModelRef(TARGET, "v0")
        fails = [1.0 - discrepancy(stages.load_prediction(self.ports, v0, x), self.truth(x))
                 < self.config.failure_threshold for x in chosen]
        return float(np.mean(fails)) if fails else float("nan")

    def run(self, records: list[RoundRecord], timings: dict[str, float], baselines: bool) -> RunRecord:
        """The run's record: its rounds, the baselines (when asked) and the v0 models' measures."""
        chosen = self.baselines(records) if baselines and records[0].counterexamples else {}
        v0 = [ModelRef(TARGET, "v0")] + self.competitors()
        arch = {m.name: m.arch for m in self.ports.catalog.model_versions() if m.version == "v0"}
        return RunRecord(self.config, records, chosen, dict(self.baselines_shifted) if chosen else {},
                         self.bookings(), self.pool_meta,
                         {r.name: {"arch": arch[r.name], "t0": self.split_miou(r, "t0"),
                                   "wild": self.split_miou(r, "wild")} for r in v0},
                         self.wild_failures(), self.random_precision(records[0]), dict(timings))

    # -- a run stored for later --------------------------------------------------------------------

    def remember(self) -> None:
        """Store the run's config and worlds beside its rounds, for `segmad round report`."""
        self.ports.blobs.put(RUN_KEY, json.dumps({
            "config": dataclasses.asdict(self.config), "train_world": dataclasses.asdict(self.train_world),
            "wild_world": dataclasses.asdict(self.wild_world)}).encode(), "application/json")

    @classmethod
    def of_stored_run(cls, ports: Ports, progress: bool = False) -> "Measures":
        """The measures of the run whose rounds the catalog holds; InputError if no world run made them."""
        if not ports.blobs.exists(RUN_KEY):
            raise InputError("these rounds were not run on the synthetic world (`segmad demo`, `segmad e2e`, "
                             "`make rounds`): measuring against the truth needs such a run")
        doc = json.loads(ports.blobs.get(RUN_KEY))
        return cls(ports, RunConfig(**doc["config"]), WorldConfig(**doc["train_world"]),
                   WorldConfig(**doc["wild_world"]), progress=progress)

    # -- galleries for the report (the paper's Figs. 2 and 5) -------------------------------------

    def galleries(self, run: RunRecord) -> dict[str, list]:
        """Fig. 2: candidates of M(1) with MOS, S highlighted; Fig. 5: T(1) before and after fine-tuning."""
        from segmad.report.figures import GalleryRow
        from segmad.simulation.summary import fmt

        first = run.rounds[0]
        v0, competitors = ModelRef(TARGET, "v0"), self.competitors()
        ranked = sorted(first.candidates, key=lambda x: (first.mos[x], x))
        picks = ranked[:5] + ranked[len(ranked) // 2: len(ranked) // 2 + 3]
        load = lambda ref, x: stages.load_prediction(self.ports, ref, x)  # noqa: E731
        image = lambda x: stages.load_images(self.ports, [x])[0]  # noqa: E731

        def rival(image_id, t_map):
            maps = {c: load(c, image_id) for c in competitors}
            best = max(maps, key=lambda c: (discrepancy(t_map, maps[c]), c.name))
            return best.name, maps[best]

        fig2 = []
        for x in picks:
            t_map = load(v0, x)
            name, c_map = rival(x, t_map)
            fig2.append(GalleryRow(image(x), [("target", t_map), (name, c_map), ("truth", self.truth(x))],
                                   f"{x}\nMOS {fmt(first.mos[x])}\ntrue mIoU {first.true_miou[x]:.2f}\n"
                                   f"{', '.join(self.pool_meta[x][0]) or 'in-domain'}",
                                   highlight=x in first.counterexamples))
        rows = {"gallery_candidates_M1": fig2}
        v1 = ModelRef(TARGET, "v1")
        if len(run.rounds) > 1 and self.ports.catalog.model_version(*v1) is not None:
            fig5 = []
            for x in first.test_set[:8]:
                t_map, after, truth = load(v0, x), load(v1, x), self.truth(x)
                name, c_map = rival(x, t_map)
                fig5.append(GalleryRow(image(x), [("target v0", t_map), (name, c_map), ("target v1", after),
                                                  ("truth", truth)],
                                       f"{x}\nmIoU v0 {1 - discrepancy(t_map, truth):.2f}\n"
                                       f"mIoU v1 {1 - discrepancy(after, truth):.2f}"))
            rows["gallery_test_T1_before_after"] = fig5
        return rows


def miou(predictions: np.ndarray, masks: np.ndarray, num_classes: int) -> float:
    """Dataset mIoU (one confusion matrix over the set)."""
    matrix = ConfusionMatrix(num_classes + 1)
    matrix.update(masks, predictions)
    return matrix.miou()
