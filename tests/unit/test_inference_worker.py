"""The inference worker: each image once per default model, round targets over the pool, checkpoints loaded."""

import time

import numpy as np
import pytest
from sqlalchemy import event

from segmad import events
from segmad.ports.bus import IMAGES, PREDICTIONS
from segmad.codec import decode_png
from segmad.ports.segmenter import Encoded, ModelRef
from segmad.inference.handler import TOPICS, InferenceHandler, cut, even_slices, parse
from segmad.models import build
from segmad.runtime.consumer import run_batches
from round_world import (C, FAILS, POOL, ingest, make_ports, register, run_discrepancy, run_inference, start_round,
                         truth_table)
from segmad.rounds import control
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


def test_the_target_s_maps_are_announced_after_the_competitors_maps(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:20])  # more images than the bus has partitions: several share one
    assert max(FAILS) == "unet"  # a competitor whose name sorts after the target's
    handler = InferenceHandler(ports, C)  # one poll: every image in one slice
    run_batches(ports.bus.subscribe(TOPICS, "inference"), parse, handler.handle, ports.bus, stop_when_idle=True)
    messages = announced(ports)  # in the order of each partition; an image's messages share one
    for image_id in POOL[:20]:
        models = [e.model for e in messages if e.image_id == image_id]
        assert models[-1] == "target" and sorted(models[:-1]) == ["fcn8s", "unet"]
        at = [k for k, e in enumerate(messages) if e.image_id == image_id]
        assert at == list(range(at[0], at[0] + 3))  # side by side in their partition


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
    ports.segmenter._models.pop(ModelRef("fcn8s", "v2"))  # as in a fresh worker process
    ingest(ports, POOL[:1])
    run_inference(ports)
    assert ModelRef("fcn8s", "v2") in ports.segmenter.models()
    assert ports.catalog.prediction(POOL[0], "fcn8s", "v2") is not None


def test_a_poll_reads_each_image_once_for_every_model(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:5])
    read = []
    get = ports.blobs.get
    ports.blobs.get = lambda key: read.append(key) or get(key)  # the local store's get_many calls get
    run_batches(ports.bus.subscribe(TOPICS, "inference"), parse, InferenceHandler(ports, C).handle, ports.bus,
                stop_when_idle=True)
    images = [key for key in read if key.startswith("images/")]
    assert len(images) == 5 and len(set(images)) == 5


def test_a_poll_catalogues_the_predictions_of_every_model_in_one_insert(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:5])
    inserts = []

    def counted(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO PREDICTIONS"):
            inserts.append(statement)

    event.listen(ports.catalog.engine, "before_cursor_execute", counted)
    run_batches(ports.bus.subscribe(TOPICS, "inference"), parse, InferenceHandler(ports, C).handle, ports.bus,
                stop_when_idle=True)
    assert len(inserts) == 1 and len(announced(ports)) == 5 * len(FAILS)


def test_predictions_catalogued_by_a_worker_that_died_before_announcing_are_announced_on_redelivery(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:3])
    publish = ports.bus.publish

    def dies_announcing(topic, key, value):
        if topic == PREDICTIONS:
            raise RuntimeError("killed between the catalog commit and the publish")
        publish(topic, key, value)

    ports.bus.publish = dies_announcing
    with pytest.raises(RuntimeError):
        run_batches(ports.bus.subscribe(TOPICS, "inference"), parse, InferenceHandler(ports, C).handle, ports.bus,
                    stop_when_idle=True)
    assert all(ports.catalog.prediction(i, m, "v0") for m in FAILS for i in POOL[:3]) and announced(ports) == []
    ports.bus.publish = publish
    again = InferenceHandler(ports, C)
    run_batches(ports.bus.subscribe(TOPICS, "inference"), parse, again.handle, ports.bus, stop_when_idle=True)
    assert again.predicted == 0
    assert sorted((e.model, e.image_id) for e in announced(ports)) == sorted((m, i) for m in FAILS for i in POOL[:3])


def drop_blob(ports, image_id):
    """The stored copy of a catalogued image is gone (deleted by hand, a lost bucket)."""
    ports.blobs.delete(ports.catalog.image(image_id).blob_key)


def test_an_image_that_cannot_be_read_is_marked_unusable_and_the_round_mines_the_rest(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:6])
    run_inference(ports)
    register(ports, "target", "v1", PlantedModel(truth_table(), C, set()))
    drop_blob(ports, POOL[2])
    start_round(ports, tmp_path, round_=1, version="v1")
    run_inference(ports)  # the round's event: the pool, but one image is gone
    assert [i for i in POOL[:6] if ports.catalog.prediction(i, "target", "v1")] == POOL[:2] + POOL[3:6]
    assert list(ports.catalog.unusable_images()) == [POOL[2]]
    assert "BlobNotFound" in ports.catalog.unusable_images()[POOL[2]]
    assert control.prediction_progress(ports, 1) == {"pool": 5, "target": 5, "unet": 5, "fcn8s": 5}
    run_discrepancy(ports)
    M = control.wait_mined(ports, 1, timeout_s=10)  # what close-mining --wait waits for: it does not wait for it
    assert M and POOL[2] not in M


def test_an_unreadable_new_image_fails_its_event_after_the_others_of_the_poll_are_predicted(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:3])
    drop_blob(ports, POOL[1])
    handler = InferenceHandler(ports, C)
    [first, second, third] = [parse(m) for m in ports.bus.subscribe(TOPICS, "once").poll(100, 0)]
    with pytest.raises(KeyError):  # BlobNotFound: the consume loop dead-letters this event with the reason
        handler.handle([first, second, third])
    assert all(ports.catalog.prediction(i, m, "v0") for i in (POOL[0], POOL[2]) for m in FAILS)
    assert list(ports.catalog.unusable_images()) == [POOL[1]]


def test_a_model_that_fails_on_readable_images_marks_nothing_unusable(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:2])

    def broken(*args):
        raise ValueError("the model's output has the wrong rank")

    ports.segmenter.predict_many = broken
    with pytest.raises(ValueError, match="wrong rank"):
        InferenceHandler(ports, C).handle([parse(m) for m in ports.bus.subscribe(TOPICS, "once").poll(100, 0)])
    assert ports.catalog.unusable_images() == {}


def test_a_poll_is_cut_into_even_slices():
    assert [len(s) for s in even_slices(list(range(100)), 64)] == [50, 50]
    assert [len(s) for s in even_slices(list(range(129)), 64)] == [43, 43, 43]
    assert even_slices(list(range(5)), 64) == [[0, 1, 2, 3, 4]] and even_slices([], 64) == []


def test_a_slice_is_cut_again_where_its_pixels_pass_the_budget():
    ids = [f"i{k}" for k in range(6)]
    pixels = dict(zip(ids, [10, 10, 10, 50, 10, 10]))
    assert cut(ids, pixels, 64, 1000) == [ids]
    assert cut(ids, pixels, 64, 30) == [ids[:3], ["i3"], ids[4:]]  # the large one alone
    assert cut(ids, pixels, 3, 25) == [ids[:2], ["i2"], ["i3"], ids[4:]]  # count first, then pixels
    assert cut(ids, {}, 4, 1) == [ids[:3], ids[3:]]  # no sizes known: by count alone


def test_a_worker_predicts_large_images_in_slices_within_its_pixel_budget(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:7])  # one poll of 7 world images
    side = ports.catalog.image(POOL[0]).width
    sizes, predict_many = [], ports.segmenter.predict_many
    ports.segmenter.predict_many = lambda requests: sizes.append(len(requests[0][1])) or predict_many(requests)
    handler = InferenceHandler(ports, C, max_slice_pixels=3 * side * side)
    run_batches(ports.bus.subscribe(TOPICS, "inference"), parse, handler.handle, ports.bus, stop_when_idle=True)
    assert sizes == [3, 3, 1] and handler.predicted == 7 * len(FAILS)


def test_the_next_slice_is_read_while_this_one_is_predicted(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:6])  # one poll; slices of 2 in id order: POOL[0:2], POOL[2:4], POOL[4:6]
    key = {i: image.blob_key for i, image in ports.catalog.images_by_id(POOL[:6]).items()}
    read, seen = [], []
    get, predict_many = ports.blobs.get, ports.segmenter.predict_many
    ports.blobs.get = lambda k: read.append(k) or get(k)  # the local store's get_many calls get

    def predicting(requests):
        slice_ = len(seen)
        later = [key[i] for i in POOL[2 * slice_ + 2:2 * slice_ + 4] if i in key]  # the next slice's images
        deadline = time.monotonic() + 10  # they are read meanwhile, or never: then the test fails below
        while not set(later) <= set(read) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(set(later) <= set(read))
        return predict_many(requests)

    ports.segmenter.predict_many = predicting
    run_batches(ports.bus.subscribe(TOPICS, "inference"), parse, InferenceHandler(ports, C, batch_size=2).handle,
                ports.bus, stop_when_idle=True)
    assert seen == [True, True, True]  # the last slice has nothing after it
    assert sorted(read) == sorted(key.values())  # each image read once
    assert all(ports.catalog.prediction(i, m, "v0") for i in POOL[:6] for m in FAILS)


@pytest.mark.parametrize("in_process", [True, False])
def test_a_remote_segmenter_gets_each_image_as_the_png_stored_and_one_in_this_process_its_pixels(tmp_path, in_process):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:3])
    stored = {i: ports.blobs.get(image.blob_key) for i, image in ports.catalog.images_by_id(POOL[:3]).items()}
    given, predict_many = [], ports.segmenter.predict_many
    ports.segmenter.predict_many = lambda requests: given.extend(x for _, xs in requests for x in xs) or predict_many(requests)
    ports.segmenter.in_process = in_process  # the models are registered already: a "remote" one serves them too
    run_inference(ports)
    assert len(given) == 3 * len(FAILS)
    if in_process:
        assert all(type(x) is np.ndarray for x in given)
    else:
        assert all(isinstance(x, Encoded) and x.png in stored.values() for x in given)
        assert all(np.array_equal(x.pixels, decode_png(x.png)) for x in given)
    assert all(ports.catalog.prediction(i, m, "v0") for i in POOL[:3] for m in FAILS)
