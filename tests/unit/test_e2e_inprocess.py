"""The rounds over the services' code, in one process: workers on threads, the labelling app over real HTTP.

The same driver `segmad e2e` runs over the local stack. Here every worker shares the process's
numerics with the embedded demo, so both runs must agree exactly: same M, S, T and scores.
"""

from __future__ import annotations

import dataclasses
import math
import threading

import pytest
from segmad import bootstrap
from segmad.adapters.bus import run_batches
from segmad.adapters.segmenter import TorchSegmenter
from segmad.demo.config import DemoConfig
from segmad.demo.loop import Demo
from segmad.demo.summary import summarize
from segmad.discrepancy import handler as discrepancy
from segmad.e2e.driver import StackRounds, compare
from segmad.inference import handler as inference
from segmad.labelling import accounts, create_app
from segmad.demo.zoo import ensure_tiny_zoo
from segmad.models.train import FinetuneConfig
from segmad.settings import Settings
from segmad.trainer import handler as trainer

CONFIG = DemoConfig(seed=3, pool_size=40, wild_size=12, rounds=1, n3=2, n4=4, test_size=4, annotators=2,
                    finetune_max_steps=2, batch_size=64)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny zoo (trained in seconds) with S0 and T0 cut down to keep fine-tuning quick."""
    zoo_dir = tmp_path_factory.mktemp("zoo")
    zoo, world = ensure_tiny_zoo(zoo_dir)
    world = dataclasses.replace(world, s0_size=32, t0_size=16)
    return zoo_dir, world, dataclasses.replace(world, seed=CONFIG.seed, pool_size=CONFIG.pool_size,
                                               wild_size=CONFIG.wild_size)


def zoo(zoo_dir):
    """A fresh copy of the zoo's models (each run fine-tunes its own)."""
    return ensure_tiny_zoo(zoo_dir)[0]


def ports_at(root):
    return bootstrap.build(Settings(data_dir=root, database_url=f"sqlite:///{root / 'c.db'}",
                                    blob_url=f"file://{root / 'blobs'}", bus="memory"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny):
    from werkzeug.serving import make_server

    zoo_dir, WORLD, WILD = tiny
    accounts.PASSWORD_METHOD = "pbkdf2:sha256:1000"
    models = zoo(zoo_dir)
    root = tmp_path_factory.mktemp("services")
    ports = ports_at(root)
    worker = lambda: dataclasses.replace(ports, segmenter=TorchSegmenter())  # noqa: E731 - each its own models
    stop = threading.Event()
    workers = [
        (inference.TOPICS, "inference", inference.parse, inference.InferenceHandler(worker(), WORLD.num_classes).handle),
        (discrepancy.TOPICS, "discrepancy", discrepancy.parse, discrepancy.DiscrepancyHandler(worker()).handle),
        (trainer.TOPICS, "trainer", trainer.parse,
         trainer.TrainerHandler(worker(), FinetuneConfig.demo(max_steps=CONFIG.finetune_max_steps)).handle),
    ]
    threads = [threading.Thread(target=run_batches, daemon=True,
                                args=(ports.bus.subscribe(topics, group), parse, handle, ports.bus, stop))
               for topics, group, parse, handle in workers]
    app = create_app({"DATABASE_URL": f"sqlite:///{root / 'c.db'}", "BLOB_STORE": ports.blobs, "SECRET_KEY": "t"})
    http = make_server("127.0.0.1", 0, app, threaded=True)
    threads.append(threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True))
    for t in threads:
        t.start()
    try:
        driver = StackRounds(CONFIG, models, ports, WORLD, WILD, f"http://127.0.0.1:{http.server_port}",
                             timeout_s=120, progress=False, say=lambda line: None)
        over_services = driver.run()
    finally:
        stop.set()
        http.shutdown()
    embedded_root = tmp_path_factory.mktemp("embedded")
    embedded_ports = ports_at(embedded_root)
    embedded = Demo(CONFIG, zoo(zoo_dir), embedded_ports, WORLD, WILD, progress=False).run()
    yield over_services, embedded, ports, driver
    ports.close()
    embedded_ports.close()


def test_the_services_reach_exactly_the_embedded_results(runs):
    over_services, embedded, _, _ = runs
    comparison = compare(over_services, embedded)
    assert comparison["agree"], comparison
    for r in comparison["rounds"]:
        assert r["m_overlap"] == r["s_overlap"] == r["t_overlap"] == 1.0
        assert r["max_metric_gap"] < 1e-6
    assert over_services.baselines.keys() == embedded.baselines.keys() == {"mad", "entropy", "random"}


def test_the_report_has_the_demo_schema_and_the_recorded_annotation_cost(runs):
    over_services, embedded, _, _ = runs
    ours, theirs = summarize(over_services), summarize(embedded)
    assert _paths(ours) == _paths(theirs)
    # Costs come from the times the labelling service recorded, which are the simulated people's.
    for kind in ("weak_hours", "dense_hours"):
        assert math.isclose(ours["cost"][kind], theirs["cost"][kind], rel_tol=1e-9)


def test_each_version_knows_the_counterexamples_it_learned_from(runs):
    _, _, ports, _ = runs
    v1 = ports.catalog.model_version("target", "v1")
    assert v1.parent_version == "v0" and v1.trained_on_round == 1
    assert v1.metrics["counterexamples"] == len(ports.catalog.round_images(1, "counterexamples"))
    assert [r.state for r in ports.catalog.rounds()] == ["done", "done"]


def test_the_report_can_be_rebuilt_from_the_catalog_alone(runs):
    over_services, _, ports, _ = runs
    again = StackRounds.resume(ports, say=lambda line: None).collect()
    assert [r.candidates for r in again.rounds] == [r.candidates for r in over_services.rounds]
    assert [r.t0 for r in again.rounds] == [r.t0 for r in over_services.rounds]


def _paths(value, prefix="") -> set[str]:
    """Every key path of a summary (model names and round indices included), timings aside."""
    if isinstance(value, dict):
        return {p for k, v in value.items() if k not in ("timings_seconds", "description")
                for p in _paths(v, f"{prefix}/{k}")} or {prefix}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return {p for i, v in enumerate(value) for p in _paths(v, f"{prefix}/{i}")}
    return {prefix}
