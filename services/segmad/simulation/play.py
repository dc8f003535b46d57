"""Algorithm 1's rounds played on the synthetic world as a team plays them: the controller's steps in order.

`seed` puts what a team brings into the store (the zoo as v0 models, S0 and T0, annotator
accounts, the pool); `play` runs each round through the rounds controller (start → close-mining →
select → finetune), with a `Runtime` doing the workers' and the trainer's part and `People`
rating and painting in the labelling service. The embedded demo and `segmad e2e` differ only in
the runtime and in how people reach the labelling service.
"""

from __future__ import annotations

import secrets
from typing import Callable, Protocol

from torch import nn

from segmad.ports.segmenter import ModelRef
from segmad.errors import InputError
from segmad.labelling import accounts
from segmad.models import TARGET_ARCH
from segmad.ports import Ports
from segmad.publish.register import register_model
from segmad.rounds import control
from segmad.ingestion.service import ingest_arrays
from segmad.pipeline import sets
from segmad.simulation.config import RunConfig
from segmad.simulation.measures import Measures
from segmad.simulation.records import TARGET, RoundRecord
from segmad.world import CLASS_NAMES, sample

ADMIN = "world-admin"


class Runtime(Protocol):
    """What runs between the controller's steps: the workers (mining) and the trainer."""

    def mine(self, round_: int) -> None:
        """Return once every image has every model's map and the round's heaps are complete."""

    def train(self, round_: int) -> None:
        """Return once the trainer has finished the round (it is done)."""


class People(Protocol):
    """The annotators, at work in the labelling service."""

    def work(self, campaign_id: int) -> None:
        """Rate (weak) or paint and cross-review (dense) every item of an open campaign."""


def annotator_names(config: RunConfig) -> list[str]:
    """The simulated people's account names, in the order of their seats."""
    return [f"annotator-{i + 1}" for i in range(config.annotators)]


def seed(ports: Ports, measures: Measures, zoo: dict[str, nn.Module], progress: bool = False) -> dict[str, str]:
    """Zoo (v0 models, served by the ports' release), S0/T0, accounts and the pool into a fresh store;
    the annotators' API tokens by name. The pool comes last: its announcements set the inference
    workers going."""
    if ports.catalog.rounds():
        raise InputError("the catalog already holds rounds; a run on the world starts from a fresh store "
                         "(`make down`, remove var/stack, `make up`)")
    world = measures.wild_world
    for arch, module in zoo.items():
        name = TARGET if arch == TARGET_ARCH else arch
        register_model(ports, name, "v0", module, arch, "target" if name == TARGET else "competitor",
                       world.num_classes, world.size)
    for name, (images, masks) in (("s0", measures.s0), ("t0", measures.t0)):
        sets.put_set(ports, name, [f"{name}-{i:06d}" for i in range(len(images))], images, masks)
    tokens = _accounts(ports, annotator_names(measures.config))
    measures.remember()
    meta = {}

    def pool():  # each image rendered once: ingested, its shifts and domain kept for the measures
        for i in range(measures.config.pool_size):
            x = sample(world, "pool", i)
            meta[x.image_id] = (x.shifts, x.in_domain)
            yield x.image_id, x.image

    ingest_arrays(ports, pool(), source="world:pool", progress=progress)
    measures.pool_meta = meta
    return tokens


def _accounts(ports: Ports, names: list[str]) -> dict[str, str]:
    with ports.catalog.begin() as conn:
        tokens = {}
        for name in names + [ADMIN]:
            row = accounts.find_annotator(conn, name)
            # Simulated people work with API tokens; nobody needs the password.
            account = row.id if row else accounts.create_annotator(
                conn, name, secrets.token_urlsafe(16), is_admin=name == ADMIN)
            tokens[name] = accounts.issue_token(conn, account)
    return tokens


def play(ports: Ports, measures: Measures, runtime: Runtime, people: People,
         say: Callable[[str], None] = lambda line: None) -> list[RoundRecord]:
    """r fine-tuning rounds and a last round that only measures (catalog rounds 1..r+1); what each did."""
    config, names = measures.config, annotator_names(measures.config)
    bounds = measures.bounds
    class_names = list(CLASS_NAMES[: bounds.num_classes])
    target, records = ModelRef(TARGET, "v0"), []
    for n in range(1, config.rounds + 2):
        last = n == config.rounds + 1
        control.start(ports, n, TARGET, target.version, config.n3, config.n4, bounds, class_names)
        runtime.mine(n)
        _, weak = control.close_mining(ports, n, names, config.test_size, seed=config.seed * 1000 + n - 1)
        people.work(weak)
        chosen = control.select(ports, n, names, measure_only=last)
        if chosen["dense_campaign"] is not None:  # None: the ratings left nothing to label
            people.work(chosen["dense_campaign"])
        control.finetune(ports, n)
        runtime.train(n)
        records.append(measures.record(n))
        say(f"round {n}: |M| {len(records[-1].candidates)}, |S| {len(records[-1].counterexamples)}, "
            f"|T| {len(records[-1].test_set)}, target {target.version} on W {records[-1].wild[TARGET]:.3f}")
        trained = ports.catalog.model_version(TARGET, f"v{n}")
        if trained is not None and trained.trained_on_round == n:
            target = ModelRef(TARGET, trained.version)
    return records

