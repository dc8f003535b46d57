"""The embedded bus: the shared contract plus how it splits partitions inside a group."""

from __future__ import annotations

import threading

import pytest

from segmad.adapters.bus import InMemoryBus

from segmad.ports.bus import partition_for
from tests.unit.test_bus_contract import BusContract


class TestInMemoryBus(BusContract):
    quiet_s = 0.05

    @pytest.fixture
    def bus(self):
        return InMemoryBus(partitions=4)


def test_the_partition_of_a_key_is_the_same_in_every_process():
    # Fixed values: a salted hash (Python's hash()) would differ between a worker and its restart.
    assert [partition_for(k, 8) for k in ("img-1", "img-2", "img-3", "img-4")] == [7, 5, 3, 0]


def test_two_members_of_a_group_split_the_messages_without_overlap():
    bus = InMemoryBus(partitions=4)
    for i in range(40):
        bus.publish("images", f"img-{i}", b"v")
    first, second = bus.subscribe(["images"], "g"), bus.subscribe(["images"], "g")
    got_first, got_second = first.poll(100, 0), second.poll(100, 0)
    assert {m.key for m in got_first}.isdisjoint(m.key for m in got_second)
    assert len(got_first) + len(got_second) == 40


def test_a_member_leaving_hands_its_uncommitted_messages_to_the_rest_of_the_group():
    bus = InMemoryBus(partitions=2)
    for i in range(10):
        bus.publish("images", f"img-{i}", b"v")
    staying, leaving = bus.subscribe(["images"], "g"), bus.subscribe(["images"], "g")
    staying.commit(staying.poll(100, 0))
    left_behind = {m.key for m in leaving.poll(100, 0)}
    leaving.close()
    assert left_behind and {m.key for m in staying.poll(100, 0)} == left_behind


def test_a_closed_consumer_cannot_poll():
    consumer = InMemoryBus().subscribe(["images"], "g")
    consumer.close()
    with pytest.raises(RuntimeError):
        consumer.poll(1, 0)


def test_publishers_on_many_threads_lose_nothing_and_keep_each_key_in_order():
    bus = InMemoryBus(partitions=3)

    def publish(worker):
        for i in range(250):
            bus.publish("images", f"worker-{worker}", str(i).encode())

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = bus.subscribe(["images"], "g").poll(2000, 0)
    for w in range(4):
        assert [m.value for m in received if m.key == f"worker-{w}"] == [str(i).encode() for i in range(250)]
