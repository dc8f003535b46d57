"""A message that fails alone for a transient reason, after all its tries, is dead-lettered and the worker goes
on; only a run of such failures with nothing going through between them is an outage that stops the loop."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from segmad import events
from segmad.adapters.bus import InMemoryBus
from segmad.events import DeadLetter
from segmad.ports.bus import DEAD_LETTERS
from segmad.runtime.consumer import run_batches
from segmad.runtime.retries import RetryPolicy
from segmad.runtime.worker import WorkerMetrics, consume

QUICK = RetryPolicy(attempts=3, wait_s=0, max_wait_s=0)
BUSY = ConnectionError("TorchServe answered 503")


def bus_of(*values: bytes) -> InMemoryBus:
    bus = InMemoryBus(partitions=1)
    for value in values:
        bus.publish("images", "k", value)
    return bus


def letters(bus) -> list[DeadLetter]:
    with bus.subscribe([DEAD_LETTERS], "inspect") as consumer:
        return [events.from_bytes(DeadLetter, m.value) for m in consumer.poll(100, 0)]


def remaining(bus) -> list[bytes]:
    """What a restarted member of the group would be given."""
    with bus.subscribe(["images"], "g") as consumer:
        return [m.value for m in consumer.poll(100, 0)]


class Handler:
    """Fails with BUSY on every try for the values in `poison`; notes what it handled and how often it was called."""

    def __init__(self, *poison: int):
        self.poison, self.calls, self.done = set(poison), 0, []

    def __call__(self, batch):
        self.calls += 1
        if self.poison & set(batch):
            raise BUSY
        self.done += batch


def parse(message) -> int:
    return int(message.value)


def test_a_lone_message_that_fails_for_a_transient_reason_after_all_its_tries_is_dead_lettered_and_the_loop_goes_on():
    bus, handler = bus_of(b"1", b"2", b"3"), Handler(2)
    stats = run_batches(bus.subscribe(["images"], "g"), parse, handler, bus, max_records=1, retry=QUICK,
                        stop_when_idle=True)
    assert handler.done == [1, 3] and handler.calls == 1 + QUICK.attempts + 1
    assert letters(bus) == [DeadLetter("images", 0, 1, "k", "ConnectionError: TorchServe answered 503", b"2")]
    assert (stats.handled, stats.dead_lettered, remaining(bus)) == (2, 1, [])


def test_the_first_message_a_worker_sees_is_dead_lettered_too_when_it_fails_alone_for_a_transient_reason():
    bus, handler = bus_of(b"1"), Handler(1)
    stats = run_batches(bus.subscribe(["images"], "g"), parse, handler, bus, retry=QUICK, stop_when_idle=True)
    assert [letter.error for letter in letters(bus)] == ["ConnectionError: TorchServe answered 503"]
    assert (stats.dead_lettered, remaining(bus)) == (1, [])


def test_two_lone_messages_in_a_row_failing_for_transient_reasons_are_an_outage_that_stops_the_loop():
    bus, handler = bus_of(b"1", b"2", b"3"), Handler(1, 2)
    with pytest.raises(ConnectionError):
        run_batches(bus.subscribe(["images"], "g"), parse, handler, bus, max_records=1, retry=QUICK,
                    stop_when_idle=True)
    # The first was blamed before the second showed a server down; the second is delivered again.
    assert [letter.offset for letter in letters(bus)] == [0] and remaining(bus) == [b"2", b"3"]


def test_a_message_that_goes_through_between_two_failing_ones_shows_the_servers_up_and_both_are_dead_lettered():
    bus, handler = bus_of(b"1", b"2", b"3", b"4"), Handler(1, 3)
    stats = run_batches(bus.subscribe(["images"], "g"), parse, handler, bus, max_records=1, retry=QUICK,
                        stop_when_idle=True)
    assert [letter.offset for letter in letters(bus)] == [0, 2] and handler.done == [2, 4]
    assert (stats.dead_lettered, remaining(bus)) == (2, [])


def test_a_worker_whose_lone_message_keeps_getting_503_stays_up_and_consumes_the_next_one():
    bus, metrics, stop, failures = bus_of(b"1"), WorkerMetrics("probe"), threading.Event(), []
    handler = SimpleNamespace(handle=Handler(1))
    member = threading.Thread(target=consume, args=(SimpleNamespace(bus=bus), ["images"], "g", parse, handler,
                                                    metrics, stop, failures, None, QUICK), daemon=True)
    member.start()
    try:
        deadline = time.monotonic() + 5
        while metrics.dead_letters._value.get() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        bus.publish("images", "k", b"2")
        while metrics.events._value.get() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert member.is_alive() and failures == []  # what the worker's /healthz answers 200 for
    finally:
        stop.set()
        member.join(5)
    assert handler.handle.done == [2] and metrics.dead_letters._value.get() == 1 and remaining(bus) == []
