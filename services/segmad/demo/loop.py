"""Algorithm 1 end to end on the embedded ports, with the synthetic world's simulated annotators.

Reads top to bottom: zoo → pool → predictions → for each round: mine M, weak-label, select S
and T, dense-label, evaluate, fine-tune → baselines → measurements for the report.
"""

from __future__ import annotations

import copy
import io
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from segmad.adapters.segmenter import ModelRef
from segmad.bootstrap import Ports
from segmad.catalog.records import Evaluation, ModelVersion
from segmad.codec import encode_png
from segmad.demo.config import DemoConfig
from segmad.mad import (ConfusionMatrix, class_fractions, discrepancy, lowest_scores, main_class,
                        mean_opinion_scores, out_of_domain, select_by_entropy, select_random,
                        select_test_set, size_bounds)
from segmad.models import TARGET_ARCH
from segmad.models.train import FinetuneConfig, finetune
from segmad.rounds import stages
from segmad.rounds.keys import checkpoint_key, label_key
from segmad.world import WorldConfig, sample, stack
from segmad.world.annotators import AnnotatorConfig, Booking, SimulatedAnnotators

TARGET = "target"


@dataclass
class RoundRecord:
    """What one mining round produced and measured (round i uses f_t^(i) and mines M^(i+1))."""

    round: int
    candidates: list[str]
    counterexamples: list[str]
    test_set: list[str]
    mos: dict[str, float]
    true_miou: dict[str, float]  # target's true per-image mIoU on M
    t0: dict[str, float] = field(default_factory=dict)
    t: dict[str, float] = field(default_factory=dict)
    wild: dict[str, float] = field(default_factory=dict)
    wild_shifted: dict[str, float] = field(default_factory=dict)
    finetune: dict = field(default_factory=dict)


@dataclass
class DemoRun:
    """Everything the report needs from a run."""

    config: DemoConfig
    rounds: list[RoundRecord]
    baselines: dict[str, float]
    baselines_shifted: dict[str, float]  # the same on the shifted in-domain images of W
    bookings: list[tuple[str, int | None, Booking]]  # ("rating" | "mask" | "baseline-mask", catalog round, booking)
    pool_meta: dict[str, tuple[tuple[str, ...], bool]]  # image id -> (shifts, in_domain)
    zoo_scores: dict[str, dict]  # model -> {"arch", "t0", "wild"} of the round-0 models
    wild_failures: dict[str, set[int]]  # model -> indices of W the model fails on (round 0 models)
    random_precision: float
    timings: dict[str, float]


class Demo:
    """One run; the steps are methods so each reads on its own."""

    def __init__(self, config: DemoConfig, zoo: dict[str, nn.Module], ports: Ports,
                 train_world: WorldConfig, wild_world: WorldConfig, progress: bool = True):
        self.config, self.ports, self.progress = config, ports, progress
        self.train_world, self.wild_world = train_world, wild_world
        self.C = train_world.num_classes
        self.competitors = [ModelRef(arch, "v0") for arch in zoo if arch != TARGET_ARCH]
        self.modules = {ModelRef(TARGET, "v0"): zoo[TARGET_ARCH]} | {ref: zoo[ref.name] for ref in self.competitors}
        self.annotators = SimulatedAnnotators(AnnotatorConfig(
            count=config.annotators, seed=config.seed, rating_noise=config.rating_noise))
        self.bookings: list[tuple[str, int | None, Booking]] = []
        self.labelled_in: dict[str, int] = {}  # image id -> the catalog round that densely labelled it
        self.timings: dict[str, float] = {}
        preset = FinetuneConfig.paper if config.finetune == "paper" else FinetuneConfig.demo
        self.finetune_config = preset(**({"max_steps": config.finetune_max_steps} if config.finetune_max_steps else {}))

    # -- setup ---------------------------------------------------------------------------------

    def register(self, ref: ModelRef, module: nn.Module, arch: str, role: str,
                 parent: str | None = None, trained_on_round: int | None = None, metrics: dict | None = None):
        """Make a model version known to the segmenter and the catalog, its checkpoint in the blob store."""
        self.modules[ref] = module
        self.ports.segmenter.register(ref.name, ref.version, module)
        buffer = io.BytesIO()
        torch.save(module.state_dict(), buffer)
        key = checkpoint_key(ref.name, ref.version)
        self.ports.blobs.put(key, buffer.getvalue())
        self.ports.catalog.add_model_version(ModelVersion(
            ref.name, ref.version, arch, role, key, parent, trained_on_round, metrics or {}))
        if parent is None or trained_on_round is not None:  # a baseline's model never serves the rounds
            self.ports.catalog.set_default_version(ref.name, ref.version)

    def load_sets(self):
        """S0 and T0 (in-domain, from the zoo's world), W (held out, from this run's world)."""
        w = self.train_world
        self.s0 = stack(w, "s0", range(w.s0_size))
        self.t0 = stack(w, "t0", range(w.t0_size))
        self.wild = stack(self.wild_world, "wild", range(self.config.wild_size))
        # The part of W where failures live: in-domain images carrying a shift factor.
        self.wild_shifted = np.array([bool(x.shifts) and x.in_domain
                                      for x in (sample(self.wild_world, "wild", i) for i in range(self.config.wild_size))])
        self.bounds = size_bounds(np.stack([class_fractions(m, self.C) for m in self.s0[1]]), self.C)

    def ingest_pool(self):
        """Put D in the blob store and the catalog, remembering each image's shifts for the report."""
        self.pool_meta = {}

        def items():
            for i in range(self.config.pool_size):
                s = sample(self.wild_world, "pool", i)
                self.pool_meta[s.image_id] = (s.shifts, s.in_domain)
                yield s.image_id, s.image

        stages.ingest_arrays(self.ports, items(), source="world:pool", progress=self.progress)
        self.pool_ids = sorted(self.pool_meta)

    def truth(self, image_id: str) -> np.ndarray:
        """The true mask of a pool image (the world regenerates it)."""
        return sample(self.wild_world, "pool", int(image_id.rsplit("-", 1)[1])).mask

    def predict_pool(self, ref: ModelRef):
        stages.predict(self.ports, ref, self.pool_ids, self.C, self.config.batch_size, self.progress)

    # -- one round ---------------------------------------------------------------------------

    def mine(self, i: int, target: ModelRef, available: list[str]):
        catalog_round = i + 1
        self.ports.catalog.start_round(catalog_round, TARGET, target.version, self.config.n3, self.config.n4)
        heaps = stages.mine(self.ports, catalog_round, target, self.competitors, available,
                            self.bounds, self.config.n3, self.progress)
        self.ports.catalog.set_round_state(catalog_round, "weak-rating")
        return heaps.candidates()

    def weak_label(self, catalog_round: int, target: ModelRef, candidates: list[str]):
        """Each annotator rates the target's prediction on every candidate; MOS with the veto."""
        ratings, true_miou, main = {}, {}, {}
        for image_id in tqdm(candidates, desc="weak labelling", disable=not self.progress, leave=False):
            prediction = stages.load_prediction(self.ports, target, image_id)
            true_miou[image_id] = 1.0 - discrepancy(prediction, self.truth(image_id))
            main[image_id] = main_class(prediction, self.C)
            votes, bookings = self.annotators.rate_all(image_id, true_miou[image_id], self.pool_meta[image_id][1])
            ratings[image_id] = votes
            self.bookings += [("rating", catalog_round, b) for b in bookings]
        return mean_opinion_scores(ratings), true_miou, main

    def dense_label(self, catalog_round: int, image_ids: list[str]) -> dict[str, np.ndarray]:
        """Annotators take turns painting the images; the masks go to the blob store."""
        masks = {}
        for n, image_id in enumerate(sorted(image_ids)):
            mask, booking = self.annotators.paint(n % self.config.annotators, image_id, self.truth(image_id))
            self.ports.blobs.put(label_key(catalog_round, image_id), encode_png(mask), "image/png")
            masks[image_id] = mask
            self.bookings.append(("mask", catalog_round, booking))
        return masks

    def predictions(self, ref: ModelRef, images: np.ndarray) -> np.ndarray:
        """A model version's label maps of a set of images."""
        return np.concatenate([self.ports.segmenter.predict(ref.name, ref.version, images[i:i + self.config.batch_size])
                               for i in range(0, len(images), self.config.batch_size)])

    def on_split(self, ref: ModelRef, split: str) -> np.ndarray:
        """Label maps of T0 or W by a model version, predicted once and kept (W serves several measures)."""
        key = (ref, split)
        if key not in self._split_predictions:
            self._split_predictions[key] = self.predictions(ref, (self.t0 if split == "t0" else self.wild)[0])
        return self._split_predictions[key]

    def miou(self, ref: ModelRef, images: np.ndarray, masks: np.ndarray) -> float:
        """Dataset mIoU (one confusion matrix) of a model version on images with their masks."""
        return _miou(self.predictions(ref, images), masks, self.C)

    def shifted_miou(self, ref: ModelRef) -> float:
        """Dataset mIoU on the shifted in-domain images of W."""
        keep = self.wild_shifted
        return _miou(self.on_split(ref, "wild")[keep], self.wild[1][keep], self.C) if keep.any() else float("nan")

    def split_miou(self, ref: ModelRef, split: str) -> float:
        """Dataset mIoU on T0 or W."""
        return _miou(self.on_split(ref, split), (self.t0 if split == "t0" else self.wild)[1], self.C)

    def evaluate(self, i: int, target: ModelRef, test_ids: list[str], masks: dict[str, np.ndarray], record: RoundRecord):
        """f_t^(i) and every g_j on T0, T^(i+1) and W; stored in the catalog."""
        test_images = stages.load_images(self.ports, test_ids) if test_ids else None
        test_masks = np.stack([masks[x] for x in test_ids]) if test_ids else None
        for ref in [target] + self.competitors:
            name = TARGET if ref.name == TARGET else ref.name
            scores = {"t0": self.split_miou(ref, "t0"), "wild": self.split_miou(ref, "wild")}
            record.t0[name], record.wild[name] = scores["t0"], scores["wild"]
            record.wild_shifted[name] = self.shifted_miou(ref)
            record.t[name] = self.miou(ref, test_images, test_masks) if test_ids else float("nan")
            for split, value in (("t0", scores["t0"]), ("wild", scores["wild"]), (f"t{i + 1}", record.t[name])):
                if not math.isnan(value):  # a test set with no labelled pixel has no mIoU to store
                    self.ports.catalog.save_evaluation(Evaluation(i + 1, ref.name, ref.version, split, value, []))

    def finetune(self, parent: ModelRef, version: str, counterexamples: list[str], catalog_round: int | None,
                 label_of: Callable[[str], np.ndarray]) -> tuple[ModelRef, dict]:
        """Fine-tune a target version on S ∪ S0 (paper §3.2), register the result as `version`."""
        s_images = stages.load_images(self.ports, counterexamples)
        s_masks = np.stack([label_of(x) for x in counterexamples])
        model, history = finetune(copy.deepcopy(self.modules[parent]), s_images, s_masks, *self.s0, *self.t0,
                                  self.finetune_config, progress=self.progress)
        ref = ModelRef(TARGET, version)
        history = {k: v for k, v in history.items() if k != "t0_miou_by_lr"} | {
            "t0_miou_by_lr": {str(k): v for k, v in history["t0_miou_by_lr"].items()},
            "final_loss_by_lr": {str(k): v for k, v in history.get("final_loss_by_lr", {}).items()},
            # Lineage, as the trainer service records it: what this version learned from.
            "num_classes": self.C, "counterexamples": len(counterexamples),
            "counterexample_rounds": sorted({self.labelled_in[x] for x in counterexamples})
            if catalog_round is not None else []}
        self.register(ref, model, TARGET_ARCH, "target", parent.version, catalog_round, history)
        if catalog_round is not None:  # a MAD round's target mines the pool next; baselines only get evaluated
            self.predict_pool(ref)
        return ref, history

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> DemoRun:
        import time

        clock = time.perf_counter()
        self._split_predictions: dict[tuple[ModelRef, str], np.ndarray] = {}
        self.load_sets()
        for ref, module in list(self.modules.items()):
            self.register(ref, module, TARGET_ARCH if ref.name == TARGET else ref.name,
                          "target" if ref.name == TARGET else "competitor")
        self.ingest_pool()
        self.timings["ingest"] = time.perf_counter() - clock
        for ref in [ModelRef(TARGET, "v0")] + self.competitors:
            self.predict_pool(ref)
        self.timings["predict_zoo"] = time.perf_counter() - clock - self.timings["ingest"]

        target, accumulated, labelled, records = ModelRef(TARGET, "v0"), [], set(), []
        dense_labels: dict[str, np.ndarray] = {}
        for i in range(self.config.rounds + 1):
            catalog_round = i + 1
            # Images already densely labelled are not mined again: their labels are known.
            candidates = self.mine(i, target, [x for x in self.pool_ids if x not in labelled])
            mos, true_miou, main = self.weak_label(catalog_round, target, candidates)
            last = i == self.config.rounds
            counterexamples = lowest_scores(mos, self.config.n4)
            test_set = select_test_set(candidates, main, exclude=set(counterexamples) | out_of_domain(mos),
                                       size=self.config.test_size, per_class=self.config.per_class,
                                       seed=self.config.seed * 1000 + i)
            # The last round only measures: its S is selected (so T is built the same way) but not labelled.
            masks = self.dense_label(catalog_round, test_set + ([] if last else counterexamples))
            dense_labels.update(masks)
            labelled |= set(masks)
            self.labelled_in.update({x: catalog_round for x in masks})
            for kind, ids in (("counterexamples", counterexamples), ("test", test_set)):
                self.ports.catalog.set_round_images(catalog_round, kind, ids)
            record = RoundRecord(i, candidates, counterexamples, test_set, mos, true_miou)
            self.evaluate(i, target, test_set, masks, record)
            accumulated += sorted(counterexamples)  # S of each round by id, as the trainer reads it
            if not last and accumulated:  # nothing to learn from yet: the target stays as it is
                target, record.finetune = self.finetune(target, f"v{i + 1}", accumulated, catalog_round,
                                                        dense_labels.__getitem__)
            self.ports.catalog.set_round_state(catalog_round, "done")
            records.append(record)
        self.timings["rounds"] = time.perf_counter() - clock - sum(self.timings.values())

        baselines = self.run_baselines(records) if self.config.baselines and records[0].counterexamples else {}
        self.timings["baselines"] = time.perf_counter() - clock - sum(self.timings.values())
        return DemoRun(self.config, records, baselines, getattr(self, "baselines_shifted", {}), self.bookings, self.pool_meta,
                       {r.name: {"arch": TARGET_ARCH if r.name == TARGET else r.name,
                                 "t0": self.split_miou(r, "t0"), "wild": self.split_miou(r, "wild")}
                        for r in [ModelRef(TARGET, "v0")] + self.competitors},
                       self.wild_failures(), self.random_precision(records[0]), self.timings)

    def run_baselines(self, records: list[RoundRecord]) -> dict[str, float]:
        """Table 2: from f_t^(0), one round with entropy and with random selection, same dense budget as MAD."""
        budget = len(records[0].counterexamples)
        entropy = {p.image_id: p.entropy for p in self.ports.catalog.predictions_for_model_version(TARGET, "v0")}
        selections = {"entropy": select_by_entropy(entropy, budget),
                      "random": select_random(self.pool_ids, budget, seed=self.config.seed)}
        scores = {"mad": records[1].wild["target"] if len(records) > 1 else float("nan")}
        shifted = {"mad": records[1].wild_shifted["target"] if len(records) > 1 else float("nan")}
        for method, chosen in selections.items():
            self.bookings += [("baseline-mask", None, self.annotators.paint(n % self.config.annotators, x, self.truth(x))[1])
                              for n, x in enumerate(chosen)]
            ref, _ = self.finetune(ModelRef(TARGET, "v0"), f"v1-{method}", chosen, None, self.truth)
            scores[method] = self.split_miou(ref, "wild")
            shifted[method] = self.shifted_miou(ref)
        self.baselines_shifted = shifted
        return scores

    def wild_failures(self) -> dict[str, set[int]]:
        """Per round-0 model, the W images it fails on (true per-image mIoU below the threshold)."""
        masks = self.wild[1]
        failures = {}
        for ref in [ModelRef(TARGET, "v0")] + self.competitors:
            predictions = self.on_split(ref, "wild")
            failures[ref.name] = {n for n in range(len(masks))
                                  if 1.0 - discrepancy(predictions[n], masks[n]) < self.config.failure_threshold}
        return failures

    def random_precision(self, first: RoundRecord) -> float:
        """Share of true failures of f_t^(0) in a random sample of D as large as M^(1)."""
        chosen = select_random(self.pool_ids, max(len(first.candidates), 1), seed=self.config.seed + 1)
        target = ModelRef(TARGET, "v0")
        fails = [1.0 - discrepancy(stages.load_prediction(self.ports, target, x), self.truth(x))
                 < self.config.failure_threshold for x in chosen]
        return float(np.mean(fails)) if fails else float("nan")

    # -- galleries for the report (the paper's Figs. 2 and 5) -------------------------------------

    def galleries(self, run: DemoRun) -> dict[str, list]:
        """Fig. 2: candidates of M(1) with MOS, S highlighted; Fig. 5: T(1) before and after fine-tuning."""
        from segmad.demo.summary import fmt
        from segmad.report.figures import GalleryRow

        first = run.rounds[0]
        v0 = ModelRef(TARGET, "v0")
        ranked = sorted(first.candidates, key=lambda x: (first.mos[x], x))
        picks = ranked[:5] + ranked[len(ranked) // 2: len(ranked) // 2 + 3]

        def rival(image_id, t_map):
            maps = {c: stages.load_prediction(self.ports, c, image_id) for c in self.competitors}
            best = max(maps, key=lambda c: (discrepancy(t_map, maps[c]), c.name))
            return best.name, maps[best]

        fig2 = []
        for x in picks:
            t_map = stages.load_prediction(self.ports, v0, x)
            name, c_map = rival(x, t_map)
            fig2.append(GalleryRow(stages.load_images(self.ports, [x])[0],
                                   [("target", t_map), (name, c_map), ("truth", self.truth(x))],
                                   f"{x}\nMOS {fmt(first.mos[x])}\ntrue mIoU {first.true_miou[x]:.2f}\n"
                                   f"{', '.join(self.pool_meta[x][0]) or 'in-domain'}",
                                   highlight=x in first.counterexamples))
        rows = {"gallery_candidates_M1": fig2}
        if len(run.rounds) > 1:
            v1 = ModelRef(TARGET, "v1")
            fig5 = []
            for x in first.test_set[:8]:
                t_map = stages.load_prediction(self.ports, v0, x)
                name, c_map = rival(x, t_map)
                after = stages.load_prediction(self.ports, v1, x)
                truth = self.truth(x)
                fig5.append(GalleryRow(stages.load_images(self.ports, [x])[0],
                                       [("target v0", t_map), (name, c_map), ("target v1", after), ("truth", truth)],
                                       f"{x}\nmIoU v0 {1 - discrepancy(t_map, truth):.2f}\n"
                                       f"mIoU v1 {1 - discrepancy(after, truth):.2f}"))
            rows["gallery_test_T1_before_after"] = fig5
        return rows


def _miou(predictions: np.ndarray, masks: np.ndarray, num_classes: int) -> float:
    matrix = ConfusionMatrix(num_classes + 1)
    matrix.update(masks, predictions)
    return matrix.miou()
