"""Rounds over the services: the stack's workers mine and train; simulated people rate and paint over HTTP.

The driver does what a team does between the steps (`segmad round start`, close-mining, select,
finetune) and measures what the embedded demo measures, reusing the demo's measurement code on
the stack's catalog and blob store (models loaded in this process from their stored checkpoints).
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
import time
from typing import Callable

from sqlalchemy import select
from torch import nn

from segmad.adapters.segmenter import ModelRef, TorchSegmenter
from segmad.bootstrap import Ports
from segmad.demo.config import DemoConfig
from segmad.demo.loop import TARGET, Demo, DemoRun, RoundRecord
from segmad.demo.summary import summarize
from segmad.errors import InputError
from segmad.inference.models import load_module
from segmad.labelling import accounts
from segmad.labelling.tables import annotators as annotator_table, campaign_items, campaigns, dense_masks, ratings
from segmad.mad import discrepancy
from segmad.models import TARGET_ARCH
from segmad.report.checks import conclusions
from segmad.rounds import control, sets, stages
from segmad.rounds.states import DONE
from segmad.world import CLASS_NAMES, WorldConfig, sample
from segmad.world.annotators import AnnotatorConfig, Booking

ADMIN = "e2e-admin"
RUN_KEY = "runs/e2e.json"  # the run's config and worlds, so `segmad round report` can measure it later


class StackRounds:
    """One run of r fine-tuning rounds (r + 1 mining rounds) over running services."""

    def __init__(self, config: DemoConfig, zoo: dict[str, nn.Module], ports: Ports, train_world: WorldConfig,
                 wild_world: WorldConfig, labelling_url: str, publish: Callable[[ModelRef, str], None] | None = None,
                 timeout_s: float = 1800.0, progress: bool = True, say: Callable[[str], None] = print):
        self.config, self.ports, self.url, self.timeout_s = config, ports, labelling_url.rstrip("/"), timeout_s
        self.say, self.progress, self.publish = say, progress, publish
        # Measurements run on models loaded in this process; the rounds run on the stack's segmenter.
        self.measure = dataclasses.replace(ports, segmenter=TorchSegmenter())
        self.demo = Demo(config, zoo, self.measure, train_world, wild_world, progress=progress)
        self.C = train_world.num_classes
        self.people = AnnotatorConfig(count=config.annotators, seed=config.seed, rating_noise=config.rating_noise)
        self.names = [f"annotator-{i + 1}" for i in range(config.annotators)]
        self.timings: dict[str, float] = {}

    # -- setup ----------------------------------------------------------------------------------

    def setup(self) -> dict[str, str]:
        """Zoo, S0/T0, accounts and the pool into the stack; the annotators' API tokens by name."""
        if self.ports.catalog.rounds():
            raise InputError("the stack's catalog already holds rounds; run end to end on a fresh stack "
                             "(`make down`, remove var/stack, `make up`)")
        d = self.demo
        d.load_sets()
        for ref, module in list(d.modules.items()):
            d.register(ref, module, TARGET_ARCH if ref.name == TARGET else ref.name,
                       "target" if ref.name == TARGET else "competitor")
            if self.publish:
                self.publish(ref, TARGET_ARCH if ref.name == TARGET else ref.name)
        sets.put_set(self.ports, "s0", [f"s0-{i:06d}" for i in range(len(d.s0[0]))], *d.s0)
        sets.put_set(self.ports, "t0", [f"t0-{i:06d}" for i in range(len(d.t0[0]))], *d.t0)
        tokens = self._accounts()
        self.ports.blobs.put(RUN_KEY, json.dumps({
            "config": dataclasses.asdict(self.config), "train_world": dataclasses.asdict(d.train_world),
            "wild_world": dataclasses.asdict(d.wild_world)}).encode(), "application/json")
        d.ingest_pool()  # announced on the bus: the inference workers predict every default model
        return tokens

    def _accounts(self) -> dict[str, str]:
        with self.ports.catalog.engine.begin() as conn:
            tokens = {}
            for name in self.names + [ADMIN]:
                row = accounts.find_annotator(conn, name)
                # Simulated people work with API tokens; nobody needs the password.
                account = row.id if row else accounts.create_annotator(
                    conn, name, secrets.token_urlsafe(16), is_admin=name == ADMIN)
                tokens[name] = accounts.issue_token(conn, account)
        return tokens

    # -- one round ------------------------------------------------------------------------------

    def play_round(self, i: int, target: ModelRef, tokens: dict[str, str]) -> RoundRecord:
        """Mining round i (catalog round i + 1) through the services; what it measured."""
        from segmad.labelling.simulate import simulate_campaign

        n, last, d = i + 1, i == self.config.rounds, self.demo
        control.start(self.ports, n, TARGET, target.version, self.config.n3, self.config.n4, d.bounds,
                      CLASS_NAMES[: self.C])
        candidates = control.wait_mined(self.ports, n, self.timeout_s, self.say)
        _, weak = control.close_mining(self.ports, n, self.names, self.config.test_size,
                                       seed=self.config.seed * 1000 + i)
        credentials = {name: tokens[name] for name in self.names}
        simulate_campaign(self.url, weak, credentials, d.wild_world, self.people)
        chosen = control.select(self.ports, n, self.names, measure_only=last)
        simulate_campaign(self.url, chosen["dense_campaign"], credentials, d.wild_world, self.people)
        control.finetune(self.ports, n)
        control.wait_until_done(self.ports, n, self.timeout_s, progress=self.progress)
        return self.record(i, target, candidates)

    def record(self, i: int, target: ModelRef, candidates: list[str]) -> RoundRecord:
        """What round i measured: the sets, the MOS, the true mIoU on M, every model's scores."""
        n, d, catalog = i + 1, self.demo, self.ports.catalog
        row = catalog.round(n)
        mos = {x: (math.inf if s is None else s) for x, s in row.settings["mos"].items()}
        true_miou = {x: 1.0 - discrepancy(stages.load_prediction(self.ports, target, x), d.truth(x)) for x in candidates}
        record = RoundRecord(i, sorted(candidates), catalog.round_images(n, "counterexamples"),
                             catalog.round_images(n, "test"), mos, true_miou)
        stored = {(e.model, e.version, e.split): e.miou for e in catalog.evaluations(n)}
        for ref in [target] + d.competitors:
            self._measured(ref)
            record.t0[ref.name] = stored.get((ref.name, ref.version, "t0"), float("nan"))
            record.t[ref.name] = stored.get((ref.name, ref.version, f"t{n}"), float("nan"))
            record.wild[ref.name] = d.split_miou(ref, "wild")
            record.wild_shifted[ref.name] = d.shifted_miou(ref)
        trained = catalog.model_version(TARGET, f"v{n}")
        if trained is not None and trained.trained_on_round == n:
            record.finetune = dict(trained.metrics)
        return record

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> DemoRun:
        """Seed the stack, play every round through the services, run the baselines; what the report needs."""
        clock = time.perf_counter()
        self.demo._split_predictions = {}
        tokens = self.setup()
        self.timings["ingest"] = time.perf_counter() - clock
        target, records = ModelRef(TARGET, "v0"), []
        for i in range(self.config.rounds + 1):
            records.append(self.play_round(i, target, tokens))
            target = self._trained(i + 1) or target
        self.timings["rounds"] = time.perf_counter() - clock - self.timings["ingest"]
        return self.finish(records, baselines=self.config.baselines, clock=clock)

    def _trained(self, round_: int) -> ModelRef | None:
        """The target version round N trained, loaded here for measuring (None if it trained none)."""
        trained = self.ports.catalog.model_version(TARGET, f"v{round_}")
        if trained is None or trained.trained_on_round != round_:
            return None
        return self._measured(ModelRef(TARGET, trained.version))

    def _measured(self, ref: ModelRef) -> ModelRef:
        """Load a model version from its checkpoint into this process for measuring (once)."""
        if ref not in self.demo.modules:
            self.demo.modules[ref] = load_module(self.ports, ref, self.C)
            self.measure.segmenter.register(ref.name, ref.version, self.demo.modules[ref])
        return ref

    @classmethod
    def resume(cls, ports: Ports, progress: bool = False, say: Callable[[str], None] = print) -> "StackRounds":
        """The run whose rounds the stack's catalog holds, for reporting on them (no labelling needed)."""
        if not ports.blobs.exists(RUN_KEY):
            raise InputError("this stack's rounds were not run by `segmad e2e` / `make rounds` on the synthetic "
                             "world: the report measures against the world's truth, which only such a run has")
        doc = json.loads(ports.blobs.get(RUN_KEY))
        train_world, wild_world = WorldConfig(**doc["train_world"]), WorldConfig(**doc["wild_world"])
        config = DemoConfig(**doc["config"])
        C = train_world.num_classes
        names = [m.name for m in ports.catalog.model_versions() if m.version == "v0"]
        zoo = {TARGET_ARCH if n == TARGET else n: load_module(ports, ModelRef(n, "v0"), C) for n in names}
        run = cls(config, zoo, ports, train_world, wild_world, "", None, progress=progress, say=say)
        d = run.demo
        d.load_sets()
        for ref, module in d.modules.items():
            run.measure.segmenter.register(ref.name, ref.version, module)
        d.pool_meta = {}
        for i in range(config.pool_size):
            x = sample(wild_world, "pool", i)
            d.pool_meta[x.image_id] = (x.shifts, x.in_domain)
        d.pool_ids = sorted(d.pool_meta)
        return run

    def collect(self) -> DemoRun:
        """A report's worth of the rounds the catalog holds as done (no baselines: they are the run's)."""
        self.demo._split_predictions = {}
        records = []
        for row in self.ports.catalog.rounds():
            if row.state == DONE:
                target = self._measured(ModelRef(row.target, row.target_version))
                records.append(self.record(row.round - 1, target, self.ports.catalog.round_images(row.round, "candidates")))
        if not records:
            raise InputError("no round is done yet: the report needs at least one finished round")
        return self.finish(records, baselines=False, clock=time.perf_counter())

    def finish(self, records: list[RoundRecord], baselines: bool, clock: float) -> DemoRun:
        """Baselines (optional) and the measures of the round-0 models: the DemoRun the report is made from."""
        d = self.demo
        chosen = d.run_baselines(records) if baselines and records[0].counterexamples else {}
        self.timings["baselines"] = time.perf_counter() - clock - sum(self.timings.values())
        v0 = [ModelRef(TARGET, "v0")] + d.competitors
        return DemoRun(self.config, records, chosen, getattr(d, "baselines_shifted", {}),
                       self.bookings() + [b for b in d.bookings if b[0] == "baseline-mask"], d.pool_meta,
                       {r.name: {"arch": TARGET_ARCH if r.name == TARGET else r.name,
                                 "t0": d.split_miou(r, "t0"), "wild": d.split_miou(r, "wild")} for r in v0},
                       d.wild_failures(), d.random_precision(records[0]), dict(self.timings))

    def bookings(self) -> list[tuple[str, int, Booking]]:
        """The annotation work the labelling service recorded: every rating and mask, with its round and time."""
        people = annotator_table.alias()
        work = []
        with self.ports.catalog.engine.connect() as conn:
            for kind, table in (("rating", ratings), ("mask", dense_masks)):
                rows = conn.execute(select(people.c.name, campaign_items.c.image_id, table.c.seconds, campaigns.c.round)
                                    .join(table, table.c.item_id == campaign_items.c.id)
                                    .join(campaigns, campaigns.c.id == campaign_items.c.campaign_id)
                                    .join(people, people.c.id == table.c.annotator_id)).all()
                work += [(kind, n, Booking(name, image_id, seconds)) for name, image_id, seconds, n in sorted(rows)]
        return work


def overlap(a, b) -> float:
    """|A ∩ B| / max(|A|, |B|): 1 when the sets are equal (and when both are empty)."""
    a, b = set(a), set(b)
    return len(a & b) / max(len(a), len(b)) if a or b else 1.0


def _gap(a: float, b: float) -> float:
    """|a - b|; 0 when both are missing (NaN), infinite when only one is."""
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    return abs(a - b)


def compare(stack: DemoRun, embedded: DemoRun, tolerance: float = 0.02) -> dict:
    """Per round: overlaps of M, S and T and the largest model-metric difference; the report's
    conclusions of each run; whether all agree (overlaps ≥ 0.9, differences ≤ tolerance, same conclusions)."""

    rounds = []
    for s, e in zip(stack.rounds, embedded.rounds):
        gaps = [_gap(s_scores.get(m, math.nan), e_scores[m])
                for s_scores, e_scores in ((s.t0, e.t0), (s.t, e.t), (s.wild, e.wild)) for m in e_scores]
        rounds.append({"round": s.round, "m_overlap": overlap(s.candidates, e.candidates),
                       "s_overlap": overlap(s.counterexamples, e.counterexamples),
                       "t_overlap": overlap(s.test_set, e.test_set),
                       "max_metric_gap": max(gaps, default=0.0)})
    claims = {side: {c["claim"]: c["holds"] for c in conclusions(summarize(run))}
              for side, run in (("stack", stack), ("embedded", embedded))}
    differing = sorted(c for c in claims["embedded"] if claims["stack"].get(c) != claims["embedded"][c])
    agree = len(stack.rounds) == len(embedded.rounds) and not differing and all(
        min(r["m_overlap"], r["s_overlap"], r["t_overlap"]) >= 0.9 and r["max_metric_gap"] <= tolerance
        for r in rounds)
    return {"rounds": rounds, "conclusions": claims["stack"], "differing_conclusions": differing,
            "agree": bool(agree), "tolerance": tolerance, "min_overlap": 0.9}

