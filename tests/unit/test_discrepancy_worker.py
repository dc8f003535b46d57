"""The discrepancy worker: pairs scored when both maps exist, heaps written only when they change."""

import pytest
from sqlalchemy import event

from segmad import events
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


@pytest.mark.parametrize("copies", [False, True])
def test_an_image_s_target_map_is_read_once_per_poll_for_all_its_competitors(tmp_path, monkeypatch, copies):
    """Maps too large to travel in their messages are fetched once each; small ones are not fetched at all."""
    if not copies:
        monkeypatch.setattr(events, "COPY_BYTES", 0)  # every map too large to be copied into its message
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:6])
    start_round(ports, tmp_path)
    run_inference(ports)
    read = []
    get = ports.blobs.get  # the embedded store's get_many reads through it
    ports.blobs.get = lambda key: read.append(key) or get(key)
    handler = DiscrepancyHandler(ports)
    run_batches(ports.bus.subscribe([PREDICTIONS], "discrepancy"), parse, handler.handle, ports.bus,
                stop_when_idle=True)
    assert handler.stats.pairs == 2 * 6 and handler.stats.maps_read == 3 * 6
    if copies:
        assert read == []  # every map came with its PredictionReady
        assert control.candidates(ports, 1) == without_copies(tmp_path / "fetched", monkeypatch)
        return
    target_maps = [key for key in read if key.startswith("predictions/target/")]
    assert sorted(target_maps) == sorted(set(target_maps)) and len(target_maps) == 6
    assert sorted(read) == sorted(set(read)) and len(read) == 3 * 6  # every map once


@pytest.mark.parametrize("kept", [True, False])
def test_maps_carried_by_an_earlier_poll_are_not_fetched_again(tmp_path, monkeypatch, kept):
    """An image's target map in one poll, its competitors' in the next: the second poll scores the pairs
    from the first poll's copy, unless the copies of recent polls outgrew what the worker keeps."""
    from segmad.discrepancy import handler as module

    if not kept:
        monkeypatch.setattr(module, "RECENT_COPY_BYTES", 0)
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:4])
    start_round(ports, tmp_path)
    read = []
    get = ports.blobs.get
    ports.blobs.get = lambda key: read.append(key) or get(key)
    handler = DiscrepancyHandler(ports)
    stages.predict_images(ports, ModelRef("target", "v0"), POOL[:4], C)
    run_discrepancy(ports, handler)
    for competitor in ("unet", "fcn8s"):
        stages.predict_images(ports, ModelRef(competitor, "v0"), POOL[:4], C)
    read.clear()  # the images the predictions read
    run_discrepancy(ports, handler)
    assert handler.stats.pairs == 2 * 4
    if kept:
        assert read == []
    else:
        # the target's maps came in the first poll: fetched (once per later poll that needs them), nothing else
        assert set(read) == {f"predictions/target/v0/{image_id}.png" for image_id in POOL[:4]}
    assert control.candidates(ports, 1) == without_copies(tmp_path / "fetched", monkeypatch, POOL[:4])


def without_copies(root, monkeypatch, images=None) -> dict:
    """The candidates of the same round mined from the store's maps only."""
    with monkeypatch.context() as patch:
        patch.setattr(events, "COPY_BYTES", 0)
        ports = make_ports(root)
        ingest(ports, POOL[:6] if images is None else images)
        start_round(ports, root)
        run_inference(ports)
        run_discrepancy(ports)
        return control.candidates(ports, 1)


def heap_writes_per_poll(ports, handler, group: str = "discrepancy") -> list[int]:
    """Drain the predictions topic as `group` in polls of 8; the statements each poll sent that write heap rows."""
    writes = []

    def counted(conn, cursor, statement, *_):
        if statement.lstrip()[:6].upper() in ("INSERT", "DELETE") and "heap_members" in statement:
            writes[-1] += 1

    def handle(batch):
        writes.append(0)
        handler.handle(batch)

    event.listen(ports.catalog.engine, "before_cursor_execute", counted)
    run_batches(ports.bus.subscribe([PREDICTIONS], group), parse, handle, ports.bus, max_records=8,
                stop_when_idle=True)
    event.remove(ports.catalog.engine, "before_cursor_execute", counted)
    return writes


def test_a_poll_merges_every_heap_it_changed_in_one_transaction_of_at_most_two_writes(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports)
    start_round(ports, tmp_path)
    run_inference(ports)
    handler = DiscrepancyHandler(ports)
    writes = heap_writes_per_poll(ports, handler)
    assert handler.stats.heap_writes > handler.stats.saves > 1  # several heaps changed in some polls
    assert max(writes) <= 2 and sum(w > 0 for w in writes) <= handler.stats.saves
    expected = control.candidates(mined(tmp_path / "one-by-one")[0], 1)
    assert control.candidates(ports, 1) == expected


def test_a_heap_that_changes_in_memory_but_not_in_the_catalog_writes_no_row(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports)
    start_round(ports, tmp_path)
    run_inference(ports)
    late = DiscrepancyHandler(ports)
    late.handle([])  # loads the round's heaps while the catalog's are still empty
    run_discrepancy(ports)  # another member mines every image meanwhile
    writes = heap_writes_per_poll(ports, late, "replay")  # the same predictions reach the late member
    assert late.stats.heap_writes > 0 and sum(writes) == 0
