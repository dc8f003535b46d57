"""One implementation of the round on two sets of adapters: in process, and as services.

Both runs play the same rounds (`simulation.play`: the controller's steps, the trainer's code).
The embedded one calls the workers' stages and the trainer in turn and lets people work through the
labelling app's views in process; the other has the inference, discrepancy and trainer workers
consume the bus on threads and people reach the labelling app over real HTTP, as `segmad e2e`
does on the local stack. Every worker shares the process's numerics, so both must agree exactly.
"""

from __future__ import annotations

import dataclasses
import math
import threading

import pytest
from segmad import bootstrap
from segmad.runtime.consumer import run_batches
from segmad.adapters.segmenter import TorchSegmenter
from segmad.demo.run import run_embedded
from segmad.discrepancy import handler as discrepancy
from segmad.e2e.driver import compare, run_over_services
from segmad.inference import handler as inference
from segmad.labelling import accounts, create_app
from segmad.models.train import FinetuneConfig
from segmad.settings import Settings
from segmad.simulation.config import RunConfig
from segmad.simulation.measures import Measures
from segmad.simulation.summary import summarize
from segmad.simulation.zoo import ensure_tiny_zoo
from segmad.trainer import handler as trainer

CONFIG = RunConfig(seed=3, pool_size=40, wild_size=12, rounds=1, n3=2, n4=4, test_size=4, annotators=2,
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


RECIPE = FinetuneConfig.demo(max_steps=CONFIG.finetune_max_steps)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny):
    from werkzeug.serving import make_server

    zoo_dir, WORLD, WILD = tiny
    accounts.PASSWORD_METHOD = "pbkdf2:sha256:1000"
    models = zoo(zoo_dir)
    root = tmp_path_factory.mktemp("services")
    ports = ports_at(root)
    worker = lambda: bootstrap.with_segmenter(ports, TorchSegmenter())  # noqa: E731 - each its own models
    stop = threading.Event()
    workers = [
        (inference.TOPICS, "inference", inference.parse, inference.InferenceHandler(worker(), WORLD.num_classes).handle),
        (discrepancy.TOPICS, "discrepancy", discrepancy.parse, discrepancy.DiscrepancyHandler(worker()).handle),
        (trainer.TOPICS, "trainer", trainer.parse,
         trainer.TrainerHandler(worker(), RECIPE).handle),
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
        over_services = run_over_services(ports, Measures(ports, CONFIG, WORLD, WILD), models,
                                          f"http://127.0.0.1:{http.server_port}", timeout_s=120, progress=False,
                                          say=lambda line: None)
    finally:
        stop.set()
        http.shutdown()
    embedded_root = tmp_path_factory.mktemp("embedded")
    embedded_ports = ports_at(embedded_root)
    embedded = run_embedded(embedded_ports, f"sqlite:///{embedded_root / 'c.db'}",
                            Measures(embedded_ports, CONFIG, WORLD, WILD), zoo(zoo_dir), RECIPE, progress=False,
                            say=lambda line: None)
    yield over_services, embedded, ports, embedded_ports
    ports.close()
    embedded_ports.close()


def test_both_sets_of_adapters_reach_exactly_the_same_results(runs):
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


def test_both_catalogs_hold_the_same_rounds(runs):
    _, _, ports, embedded_ports = runs
    for n in (1, 2):
        assert ports.catalog.round_images(n, "candidates") == embedded_ports.catalog.round_images(n, "candidates")
        assert ({(e.model, e.version, e.split): e.miou for e in ports.catalog.evaluations(n)}
                == {(e.model, e.version, e.split): e.miou for e in embedded_ports.catalog.evaluations(n)})


def test_the_report_can_be_rebuilt_from_the_catalog_alone(runs):
    over_services, _, ports, _ = runs
    again = Measures.of_stored_run(ports).done_rounds()
    assert [r.candidates for r in again] == [r.candidates for r in over_services.rounds]
    assert [r.t0 for r in again] == [r.t0 for r in over_services.rounds]


def _paths(value, prefix="") -> set[str]:
    """Every key path of a summary (model names and round indices included), timings aside."""
    if isinstance(value, dict):
        return {p for k, v in value.items() if k not in ("timings_seconds", "description")
                for p in _paths(v, f"{prefix}/{k}")} or {prefix}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return {p for i, v in enumerate(value) for p in _paths(v, f"{prefix}/{i}")}
    return {prefix}
