"""A worker's /metrics counts the catalog writes it makes (the figure `segmad bench pipeline` reports) and its
dead letters."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from segmad.adapters.bus import InMemoryBus
from segmad.catalog import Catalog, make_engine, migrate
from segmad.catalog.records import Image, ModelVersion
from segmad.mad import HeapKey, Member
from segmad.events import MalformedMessage
from segmad.runtime.worker import WorkerMetrics, consume, count_writes


def catalog(tmp_path) -> Catalog:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(engine)
    return Catalog(engine)


def test_writes_are_counted_and_reads_are_not(tmp_path):
    cat, metrics = catalog(tmp_path), WorkerMetrics("probe")
    count_writes(cat.engine, metrics)
    cat.add_image(Image("img-1", "ab" * 32, 4, 4, "test", "images/x.png"))
    cat.image("img-1")
    cat.image_ids()
    assert metrics.db_writes._value.get() == 1 and metrics.last_db_write._value.get() > 0


def test_saving_a_heap_is_two_writes_whatever_its_size(tmp_path):
    cat, metrics = catalog(tmp_path), WorkerMetrics("probe")
    cat.add_model_version(ModelVersion("target", "v1", "deeplabv3plus", "target", "models/target/v1.pt"))
    cat.start_round(1, "target", "v1", 3, 10)
    for i in range(3):
        cat.add_image(Image(f"img-{i}", f"{i:064x}", 4, 4, "test", f"images/{i}.png"))
    count_writes(cat.engine, metrics)
    cat.save_heap(1, HeapKey("unet", 1, "target"), [Member(f"img-{i}", 0.5) for i in range(3)])
    assert metrics.db_writes._value.get() == 2  # delete the old members, insert the new ones (one executemany)


def test_messages_that_cannot_be_parsed_or_handled_are_both_counted_as_dead_letters():
    bus, metrics, stop = InMemoryBus(partitions=1), WorkerMetrics("probe"), threading.Event()
    for value in (b"1", b"x", b"3"):
        bus.publish("images", "k", value)

    def parse(message):
        if not message.value.isdigit():
            raise MalformedMessage("not a number")
        return int(message.value)

    def handle(batch):
        if 3 in batch:
            raise ValueError("poison")

    member = threading.Thread(target=consume, args=(SimpleNamespace(bus=bus), ["images"], "g", parse,
                                                    SimpleNamespace(handle=handle), metrics, stop, []), daemon=True)
    member.start()
    deadline = time.monotonic() + 5
    while metrics.dead_letters._value.get() < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    member.join(5)
    assert (metrics.events._value.get(), metrics.dead_letters._value.get()) == (1, 2)
