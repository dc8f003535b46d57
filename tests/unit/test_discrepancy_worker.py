"""The discrepancy worker: pairs scored when both maps exist, heaps written only when they change."""

from segmad.ports.bus import PREDICTIONS
from segmad.runtime.consumer import run_batches
from segmad.ports.segmenter import ModelRef
from segmad.discrepancy.handler import DiscrepancyHandler, parse
from segmad.rounds import control
from segmad.pipeline import stages
from round_world import C, POOL, ingest, make_ports, run_discrepancy, run_inference, start_round


def mined(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports)
    start_round(ports, tmp_path)
    run_inference(ports)
    handler = DiscrepancyHandler(ports)
    run_discrepancy(ports, handler)
    return ports, handler


def test_a_pair_is_scored_when_its_second_map_appears(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, [POOL[11]])  # an image in some subgroup
    start_round(ports, tmp_path)
    handler = DiscrepancyHandler(ports)
    stages.predict_images(ports, ModelRef("target", "v0"), [POOL[11]], C)
    run_discrepancy(ports, handler)
    assert handler.stats.pairs == 0  # no competitor map yet
    stages.predict_images(ports, ModelRef("unet", "v0"), [POOL[11]], C)
    run_discrepancy(ports, handler)
    assert handler.stats.pairs == 1 and handler.stats.heap_writes > 0


def test_nothing_is_mined_while_no_round_is_mining(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:4])
    run_inference(ports)
    handler = DiscrepancyHandler(ports)
    run_discrepancy(ports, handler)
    assert handler.stats.events > 0 and handler.stats.pairs == 0 and handler.stats.heap_writes == 0


def test_redelivered_predictions_change_no_heap_and_write_nothing(tmp_path):
    ports, first = mined(tmp_path)
    before = control.candidates(ports, 1)
    again = DiscrepancyHandler(ports)
    for message in ports.bus.subscribe([PREDICTIONS], "replay").poll(10_000, 0):
        again(message)
    assert again.stats.pairs == first.stats.pairs and again.stats.heap_writes == 0
    assert control.candidates(ports, 1) == before


def test_a_round_started_after_the_pool_was_predicted_mines_it_all(tmp_path):
    expected = control.candidates(mined(tmp_path / "usual")[0], 1)
    ports = make_ports(tmp_path / "late")
    ingest(ports)
    run_inference(ports)
    run_discrepancy(ports)  # no round yet: nothing to mine
    start_round(ports, tmp_path / "late")
    run_inference(ports)  # the round's target maps exist: they are announced again
    run_discrepancy(ports)
    assert control.candidates(ports, 1) == expected


def test_images_labelled_in_an_earlier_round_are_not_mined_again(tmp_path):
    ports, _ = mined(tmp_path)
    labelled = control.candidates(ports, 1)["images"][:3]
    ports.catalog.set_round_images(1, "counterexamples", labelled)
    ports.catalog.set_round_state(1, "done")  # its labelling and training are not this test's concern
    start_round(ports, tmp_path, round_=2)
    run_inference(ports)
    run_discrepancy(ports)
    assert control.candidates(ports, 2)["images"] and not set(labelled) & set(control.candidates(ports, 2)["images"])


def test_an_image_s_target_map_is_read_once_per_poll_for_all_its_competitors(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:6])
    start_round(ports, tmp_path)
    run_inference(ports)
    read = []
    get = ports.blobs.get
    ports.blobs.get = lambda key: read.append(key) or get(key)
    handler = DiscrepancyHandler(ports)
    run_batches(ports.bus.subscribe([PREDICTIONS], "discrepancy"), parse, handler.handle, ports.bus,
                stop_when_idle=True)
    target_maps = [key for key in read if key.startswith("predictions/target/")]
    assert handler.stats.pairs == 2 * 6 and sorted(target_maps) == sorted(set(target_maps)) and len(target_maps) == 6
