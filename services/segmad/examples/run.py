"""The worked example's round, top to bottom: fetch → cards → models → pool → mining → weak campaign → report.

Embedded (default): SQLite, local blobs and the in-process segmenter under OUT/data, started
afresh each run (the cache is kept); the models predict the pool in this process and
`close-mining` mines it in one pass, as the workers would. With `stack=True` the ports come from
the environment (`set -a; . var/stack/env; set +a` after `make up`): `models add` releases each
card to TorchServe, the inference and discrepancy workers predict and mine, and this waits for them.
"""

from __future__ import annotations

import json
import secrets
import sys
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from segmad import bootstrap
from segmad.cards.labels import LabelSpace
from segmad.errors import InputError
from segmad.examples import fetch
from segmad.examples.cards import TARGET, write_cards
from segmad.examples.report import write_report
from segmad.ingestion.batch import ingest_all
from segmad.ingestion.limits import limits_from_env
from segmad.ingestion.sources import inputs
from segmad.labelling import accounts
from segmad.mad.bounds import SizeBounds
from segmad.pipeline import stages
from segmad.ports.segmenter import ModelRef
from segmad.publish.register import add_card
from segmad.rounds import control
from segmad.settings import Settings, load as load_settings

SPACE = LabelSpace(("background", "person"))
RATERS = ("rater-1", "rater-2")


@dataclass(frozen=True)
class ExampleConfig:
    cache: Path = Path("var/real-example/cache")
    target: str = TARGET         # the model being troubleshot; every other card competes
    out: Path = Path("var/real-example")
    isnet: bool = False          # ISNet at 1024² costs ~20 s an image on two busy cores
    stack: bool = False          # ports from the environment (the local stack) instead of embedded
    n3: int = 10                 # candidates per (competitor, class) heap
    n4: int = 10
    test_size: int = 5
    top: int = 12                # candidates shown in the report
    wait_s: float = 3600.0       # on the stack: how long to wait for the workers


def embedded_settings(out: Path) -> Settings:
    """A fresh embedded store under OUT/data (the previous run's is removed)."""
    data = out / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    return Settings(data_dir=data, database_url=f"sqlite:///{data / 'catalog.db'}", blob_url=f"file://{data / 'blobs'}",
                    bus="memory", num_classes=1)


def add_raters(ports, out: Path) -> list[str]:
    """Two rater accounts (passwords in OUT/raters.json, git-ignored under var/) unless they exist."""
    passwords = {}
    with ports.catalog.begin() as conn:
        for name in RATERS:
            if accounts.find_annotator(conn, name) is None:
                passwords[name] = secrets.token_urlsafe(12)
                accounts.create_annotator(conn, name, passwords[name])
    if passwords:
        (out / "raters.json").write_text(json.dumps(passwords, indent=2) + "\n")
    return list(RATERS)


def run_example(config: ExampleConfig, say: Callable[[str], None] = print) -> dict:
    """Fetch what is missing, write the cards and play the round on fresh ports; the report's summary."""
    settings = load_settings() if config.stack else None
    if settings is not None and not (settings.torchserve_url and settings.bus.startswith("kafka")):
        raise InputError("--stack needs the stack's settings: `make up`, then `set -a; . var/stack/env; set +a`")
    started = time.perf_counter()
    say(f"fetching models and photographs into {config.cache} (once)")
    models = fetch.fetch_models(config.cache, isnet=config.isnet)
    photos = fetch.fetch_photos(config.cache)
    fetch_s = round(time.perf_counter() - started, 2)
    cards = write_cards(models, config.out / "cards")
    ports = bootstrap.build(settings or embedded_settings(config.out))
    try:
        result = play_round(ports, cards, photos, config, say)
    finally:
        ports.close()
    result["timings_seconds"] = {"fetch": fetch_s, **result["timings_seconds"]}
    result["models"] = {name: str(path) for name, path in models.items()}
    (config.out / "report" / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def play_round(ports, cards: dict[str, Path], photos: Path, config: ExampleConfig,
               say: Callable[[str], None] = print) -> dict:
    """Models from `cards` (config.target the target), the pool from `photos`, a round to its open weak campaign, the report."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()

    for name in sorted(cards, key=lambda n: n != config.target):
        role = "target" if name == config.target else "competitor"
        version = add_card(ports, name, "v0", cards[name], role=role, space=SPACE)
        say(f"added {version.role} {name}@v0 ({cards[name]})")
    lap("models_add")
    limits = limits_from_env()
    summary = ingest_all(ports, inputs(str(photos), limits, 10.0, open_bucket=_no_bucket), limits)
    say(f"ingested {summary.ingested}, duplicates {summary.duplicates}, "
        f"rejected {sum(summary.rejected_by_reason.values())} from {photos}")
    pool = ports.catalog.image_ids()
    if len(pool) < 2:
        raise InputError(f"the pool holds {len(pool)} images; nothing to mine")
    lap("ingest")
    round_ = max([r.round for r in ports.catalog.rounds()], default=0) + 1
    # Any person fraction above 0 forms a subgroup: there is no S0 here to learn size bounds from.
    bounds = SizeBounds(np.array([0.0, 0.0]), np.array([1.0, 1.0]))
    control.start(ports, round_, config.target, "v0", config.n3, config.n4, bounds, ["person"])
    say(f"round {round_} started: target {config.target}@v0 against "
        f"{', '.join(n for n in cards if n != config.target)}")
    predict_s = {}
    if config.stack:  # TorchServe and the workers predict and mine; wait for them
        control.wait_mined(ports, round_, config.wait_s, say=say)
    else:
        for name in cards:
            started = time.perf_counter()
            stages.predict(ports, ModelRef(name, "v0"), pool, SPACE.num_classes, batch_size=16,
                           progress=sys.stderr.isatty())
            predict_s[name] = round(time.perf_counter() - started, 2)
            say(f"predicted {len(pool)} photographs with {name} in {predict_s[name]} s")
    lap("predict")
    raters = add_raters(ports, config.out)
    M, campaign = control.close_mining(ports, round_, annotators=raters, test_size=config.test_size)
    say(f"mining closed: |M| = {len(M)}; weak-rating campaign {campaign} open for {', '.join(raters)}")
    lap("mine_and_open_campaign")
    result = write_report(ports, round_, config.out / "report", top=config.top)
    lap("report")
    result.update(round=round_, campaign=campaign, pool=len(pool), predict_seconds=predict_s,
                  timings_seconds=timings, config={k: str(v) for k, v in asdict(config).items()})
    (config.out / "report" / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    say(f"report: {config.out / 'report' / 'index.html'} (and report.md, summary.json)")
    return result


def _no_bucket(name: str):
    raise InputError("the example ingests a local folder, not a bucket")
