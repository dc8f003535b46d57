"""Ingestion by batches: inputs prepared concurrently, blobs uploaded together, one INSERT and one flush per
batch, nothing announced before it is stored and catalogued, and the same outcomes as one input at a time."""

import io
import threading
from dataclasses import replace

import pytest
from ingestion_fixtures import CORPUS, encode, halves, noise, ports  # noqa: F401  (fixtures)
from sqlalchemy import event

from segmad import bootstrap, events
from segmad.adapters.bus import InMemoryBus
from segmad.ingestion.app import create_app
from segmad.ingestion.batch import ingest_all, prepare_input
from segmad.ingestion.flow import ingest_stream
from segmad.ingestion.limits import Limits
from segmad.ingestion.service import ingest_bytes
from segmad.ingestion.sources import Input
from segmad.ports.bus import IMAGES
from segmad.settings import Settings


class CheckingBus(InMemoryBus):
    """An in-memory bus that fails a publish of an image not yet stored and catalogued, and counts flushes."""

    def __init__(self):
        super().__init__()
        self.ports, self.flushes = None, 0

    def publish(self, topic, key, value):
        announced = events.from_bytes(events.ImageIngested, value)
        assert self.ports.catalog.image(announced.image_id) is not None, f"{announced.image_id} announced uncatalogued"
        assert self.ports.blobs.exists(announced.blob_key), f"{announced.image_id} announced unstored"
        super().publish(topic, key, value)

    def flush(self):
        self.flushes += 1


@pytest.fixture
def checked(ports):  # noqa: F811
    """The embedded ports with a CheckingBus."""
    bus = CheckingBus()
    bus.ports = replace(ports, bus=bus)
    return bus.ports


def inputs(count: int, first_seed: int = 0) -> list[Input]:
    """`count` distinct small PNG files."""
    return [Input(f"img-{n}.png", lambda n=n: encode(noise(seed=first_seed + n), "PNG")) for n in range(count)]


def corpus_with_repeats() -> list[Input]:
    """The bad-file corpus and good images, with the same content twice and one id asked for by two contents."""
    corpus = [Input(name, make) for name, make in sorted(CORPUS.items())]
    twice = [Input("a.png", lambda: encode(halves(40, 40), "PNG")), Input("a.bmp", lambda: encode(halves(40, 40), "BMP"))]
    return corpus[:5] + twice + inputs(6) + corpus[5:] + inputs(3)


def writes(ports, table: str) -> list[str]:  # noqa: F811
    """A list that fills with the INSERT statements sent to `table` from now on."""
    sent = []
    event.listen(ports.catalog.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *_: sent.append(statement)
                 if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} ") else None)
    return sent


def announced(ports) -> list[str]:  # noqa: F811
    with ports.bus.subscribe([IMAGES], "test-reader") as consumer:
        return [events.from_bytes(events.ImageIngested, m.value).image_id for m in consumer.poll(10_000, 0)]


def test_a_run_catalogues_each_batch_in_one_insert_and_flushes_the_bus_once_per_batch(checked):
    inserts = writes(checked, "images")
    outcomes = list(ingest_stream(checked, inputs(10), lambda item: prepare_input(item, Limits()), batch_size=4))
    assert [o.status for o in outcomes] == ["ingested"] * 10
    assert len(inserts) == 3 and checked.bus.flushes == 3  # batches of 4, 4 and 2
    assert len(announced(checked)) == 10


def test_a_batch_s_blobs_go_to_the_store_together(ports, monkeypatch):  # noqa: F811
    calls, put_many = [], ports.blobs.put_many
    monkeypatch.setattr(ports.blobs, "put_many", lambda items, *args: calls.append(len(items)) or put_many(items, *args))
    monkeypatch.setattr(ports.blobs, "exists", lambda key: pytest.fail("new content needs no existence check"))
    list(ingest_stream(ports, inputs(10), lambda item: prepare_input(item, Limits()), batch_size=4))
    assert calls == [4, 4, 2]


def test_nothing_is_announced_before_it_is_stored_and_catalogued_by_segmad_ingest(checked):
    summary = ingest_all(checked, inputs(70))  # more than one batch of the default size
    assert summary.ingested == 70 and len(announced(checked)) == 70


def test_nothing_is_announced_before_it_is_stored_and_catalogued_by_the_http_service(checked):
    client = create_app({"PORTS": checked, "LIMITS": Limits(), "TESTING": True}).test_client()
    files = [(io.BytesIO(encode(noise(seed=n), "PNG")), f"{n}.png") for n in range(5)]
    reply = client.post("/images", data={"image": files}, content_type="multipart/form-data")
    assert reply.status_code == 201 and len(announced(checked)) == 5 and checked.bus.flushes == 1


def test_batches_give_the_outcomes_and_catalog_of_one_input_at_a_time(ports, tmp_path):  # noqa: F811
    one_by_one = bootstrap.build(Settings(data_dir=tmp_path / "one", database_url=f"sqlite:///{tmp_path / 'one.db'}",
                                          blob_url=f"file://{tmp_path / 'one'}", bus="memory"))
    try:
        expected = [ingest_bytes(one_by_one, item.read(), item.source) for item in corpus_with_repeats()]
        got = list(ingest_stream(ports, corpus_with_repeats(), lambda item: prepare_input(item, Limits()), batch_size=5))
        assert got == expected and "duplicate" in {o.status for o in got}
        assert ports.catalog.image_ids() == one_by_one.catalog.image_ids()
        assert [(r.source, r.reason) for r in ports.catalog.rejections()] == \
            [(r.source, r.reason) for r in one_by_one.catalog.rejections()]
        assert announced(ports) == announced(one_by_one)
    finally:
        one_by_one.close()


def test_an_id_asked_for_by_two_contents_in_one_batch_goes_to_the_first(ports):  # noqa: F811
    from segmad.ingestion.service import prepare_bytes

    first, second = (prepare_bytes(encode(noise(seed=s), "PNG"), f"{s}.png", image_id="x") for s in (1, 2))
    outcomes = list(ingest_stream(ports, [first, second], lambda prepared: prepared))
    assert [(o.status, o.reason_code) for o in outcomes] == [("ingested", None), ("rejected", "id-taken")]
    assert ports.catalog.image("x").source == "1.png"


def test_a_failed_upload_stops_the_run_with_nothing_of_its_batch_catalogued_or_announced(checked, monkeypatch):
    put_many, batches = checked.blobs.put_many, []

    def failing_second(items, *args):
        batches.append(items)
        if len(batches) == 2:
            raise OSError("the store went away")
        put_many(items, *args)

    monkeypatch.setattr(checked.blobs, "put_many", failing_second)
    with pytest.raises(OSError, match="went away"):
        list(ingest_stream(checked, inputs(10), lambda item: prepare_input(item, Limits()), batch_size=4))
    assert len(checked.catalog.image_ids()) == 4 and len(announced(checked)) == 4


def test_inputs_are_read_concurrently(ports):  # noqa: F811
    together = threading.Barrier(2, timeout=10)  # broken (an error) unless two reads wait at once

    def read(n):
        together.wait()
        return encode(noise(seed=n), "PNG")

    items = [Input(f"{n}.png", lambda n=n: read(n)) for n in range(4)]
    outcomes = list(ingest_stream(ports, items, lambda item: prepare_input(item, Limits()), preparers=2))
    assert [o.status for o in outcomes] == ["ingested"] * 4


def test_a_blob_lost_since_its_content_was_catalogued_is_put_back(ports):  # noqa: F811
    item = inputs(1)[0]
    first = ingest_all(ports, [item])
    [key] = ports.blobs.keys()
    ports.blobs.delete(key)
    again = ingest_all(ports, [item])
    assert (first.ingested, again.duplicates) == (1, 1) and list(ports.blobs.keys()) == [key]


def test_a_duplicate_names_the_id_its_content_is_catalogued_under(ports):  # noqa: F811
    data = encode(noise(seed=3), "PNG")
    ingest_bytes(ports, data, "a.png", image_id="first")
    assert ingest_bytes(ports, data, "b.png", image_id="second").image_id == "first"


# -- `segmad bench ingest` (its stack run is measured, not unit-tested) ------------------------------------


def test_the_ingest_benchmark_times_segmad_ingest_into_the_embedded_store(tmp_path):
    from segmad.bench.ingest import embedded, write_pool

    write_pool(tmp_path / "pool", 5, 0)
    figures = embedded(tmp_path / "pool", tmp_path / "work")
    assert (figures["ingested"], figures["duplicates"], figures["rejected"]) == (5, 0, 0)
    assert figures["images_per_s"] == 5 / figures["seconds"]


@pytest.mark.parametrize("argv", [["--images", "0"], ["--size", "16"]])
def test_the_ingest_benchmark_refuses_what_it_cannot_measure(argv, capsys):
    from segmad.cli import main

    assert main(["bench", "ingest", *argv]) == 2
    assert capsys.readouterr().err.count("\n") == 1
