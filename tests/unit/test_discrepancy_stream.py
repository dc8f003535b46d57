"""The streaming workers agree with offline `segmad select`, with and without crashes and redelivery."""

import json
import random

import pytest

from segmad import events
from segmad.ports.bus import DEAD_LETTERS, IMAGES, PREDICTIONS
from segmad.cli import main
from segmad.discrepancy.handler import DiscrepancyHandler
from segmad.inference.handler import InferenceHandler
from segmad.rounds import control
from round_world import C, FAILS, ingest, make_ports, run_discrepancy, run_inference, start_round, train_masks


def streamed(root):
    ports = make_ports(root)
    ingest(ports)
    start_round(ports, root)
    run_inference(ports)
    run_discrepancy(ports)
    return ports


def test_round_candidates_equal_segmad_select_on_the_exported_predictions(tmp_path):
    ports = streamed(tmp_path)
    control.export_predictions(ports, 1, tmp_path / "export")
    out = tmp_path / "select.json"
    assert main(["select", "--predictions", str(tmp_path / "export"), "--target", "target", "--train-masks",
                 str(train_masks(tmp_path)), "--num-classes", str(C), "--n3", "2", "--out", str(out)]) == 0
    offline, online = json.loads(out.read_text()), control.candidates(ports, 1)
    assert online["images"] == offline["images"] and online["images"]
    assert [(h["competitor"], h["class"], h["partition_by"], [m["image"] for m in h["members"]])
            for h in online["heaps"]] == [(h["competitor"], h["class"], h["partition_by"],
                                           [m["image"] for m in h["members"]]) for h in offline["heaps"]]
    distances = [(a["distance"], b["distance"]) for x, y in zip(online["heaps"], offline["heaps"])
                 for a, b in zip(x["members"], y["members"])]
    assert all(a == pytest.approx(b, abs=1e-6) for a, b in distances)
    assert set(online["images"]) & FAILS["target"], "M must hold some of the target's planted failures"


def flaky(function, rng: random.Random, p: float):
    """`function`, except that a call sometimes crashes before it runs and sometimes right after."""
    def call(*args, **kwargs):
        if rng.random() < p:
            raise RuntimeError("killed before")
        result = function(*args, **kwargs)
        if rng.random() < p:
            raise RuntimeError("killed after")
        return result
    return call


def until_done(run, make_handler, rng, p):
    """Restart a crashing worker (a fresh process: new handler, uncommitted messages again) until it drains."""
    for restarts in range(500):
        try:
            run(flaky(make_handler(), rng, p))
            return restarts
        except RuntimeError:
            continue
    raise AssertionError("never finished")


def test_crashes_at_random_points_and_restarts_give_the_uninterrupted_candidates(tmp_path, monkeypatch):
    expected = control.candidates(streamed(tmp_path / "calm"), 1)
    ports = make_ports(tmp_path / "stormy")
    ingest(ports)
    start_round(ports, tmp_path / "stormy")
    rng = random.Random(7)
    # Crashes inside the work too: between writes of one message, and after a write but before the commit.
    for owner, name in ((ports.catalog, "merge_heap"), (ports.catalog, "add_predictions"), (ports.blobs, "put")):
        monkeypatch.setattr(owner, name, flaky(getattr(owner, name), rng, 0.05))
    inference = until_done(lambda h: run_inference(ports, h), lambda: InferenceHandler(ports, C, 4), rng, 0.1)
    discrepancy = until_done(lambda h: run_discrepancy(ports, h), lambda: DiscrepancyHandler(ports), rng, 0.1)
    assert inference > 0 and discrepancy > 0, "the test must really crash both workers"
    assert control.candidates(ports, 1) == expected
    print(f"restarts: inference {inference}, discrepancy {discrepancy}; |M| = {len(expected['images'])}")


def test_a_malformed_message_is_dead_lettered_and_the_workers_go_on(tmp_path):
    ports = make_ports(tmp_path)
    ports.bus.publish(IMAGES, "junk", b"\xff not protobuf")
    ports.bus.publish(PREDICTIONS, "junk", b"\xff not protobuf")
    ingest(ports)
    start_round(ports, tmp_path)
    assert run_inference(ports).dead_lettered == 1
    assert run_discrepancy(ports).dead_lettered == 1
    with ports.bus.subscribe([DEAD_LETTERS], "reader") as reader:
        letters = [events.from_bytes(events.DeadLetter, m.value) for m in reader.poll(10, 0)]
    assert sorted(letter.topic for letter in letters) == [IMAGES, PREDICTIONS]
    assert control.candidates(ports, 1)["images"]
