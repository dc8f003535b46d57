"""The inference worker: each image once per default model, round targets over the pool, checkpoints loaded."""

from segmad import events
from segmad.adapters.bus import IMAGES, PREDICTIONS
from segmad.adapters.segmenter import ModelRef
from segmad.inference.handler import TOPICS, InferenceHandler, parse
from segmad.models import build
from segmad.adapters.bus import run_batches
from round_world import C, FAILS, POOL, ingest, make_ports, register, run_inference, start_round, truth_table
from world_fakes import PlantedModel


def announced(ports, group="reader"):
    with ports.bus.subscribe([PREDICTIONS], group) as reader:
        return [events.from_bytes(events.PredictionReady, m.value) for m in reader.poll(10_000, 0)]


def test_each_image_is_predicted_once_by_every_default_model_and_announced(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:4])
    run_inference(ports)
    pairs = sorted((e.model, e.image_id) for e in announced(ports))
    assert pairs == sorted((model, i) for model in FAILS for i in POOL[:4])
    assert all(ports.catalog.prediction(i, m, "v0") for m, i in pairs)


def test_a_redelivered_image_is_not_predicted_again_but_announced_again(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:2])
    run_inference(ports)
    again = InferenceHandler(ports, C)
    for message in ports.bus.subscribe([IMAGES], "replay").poll(100, 0):
        again(message)
    assert again.predicted == 0
    assert len(announced(ports)) == 2 * 2 * len(FAILS)


def test_a_started_round_has_its_target_version_predict_the_pool_and_competitors_stay_cached(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:3])
    run_inference(ports)
    register(ports, "target", "v1", PlantedModel(truth_table(), C, set()))
    start_round(ports, tmp_path, round_=1, version="v1")
    handler = InferenceHandler(ports, C)
    run_inference(ports, handler)
    assert handler.predicted == 3
    assert all(ports.catalog.prediction(i, "target", "v1") for i in POOL[:3])


def test_a_poll_is_predicted_in_one_call_per_model(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:5])
    calls = []
    real = ports.segmenter.predict_with_entropy
    ports.segmenter.predict_with_entropy = lambda *a: calls.append(a[:2]) or real(*a)
    handler = InferenceHandler(ports, C)
    run_batches(ports.bus.subscribe(TOPICS, "inference"), parse, handler.handle, ports.bus, stop_when_idle=True)
    assert sorted(calls) == sorted((name, "v0") for name in FAILS)


def test_a_model_version_missing_from_the_segmenter_is_loaded_from_its_checkpoint(tmp_path):
    ports = make_ports(tmp_path)
    register(ports, "fcn8s", "v2", build("fcn8s", C).eval())
    ports.segmenter._modules.pop(ModelRef("fcn8s", "v2"))  # as in a fresh worker process
    ingest(ports, POOL[:1])
    run_inference(ports)
    assert ModelRef("fcn8s", "v2") in ports.segmenter.models()
    assert ports.catalog.prediction(POOL[0], "fcn8s", "v2") is not None
