"""The consume loop the workers run: one handler call per poll, commit after it, dead letters, clean stops.

Retries and poison messages: test_worker_retries.py."""

from __future__ import annotations

import threading

import pytest

from segmad import events
from segmad.adapters.bus import InMemoryBus
from segmad.ports.bus import DEAD_LETTERS
from segmad.runtime.consumer import run_batches
from segmad.events import DeadLetter, MalformedMessage


@pytest.fixture
def bus():
    bus = InMemoryBus(partitions=1)
    for value in (b"1", b"x", b"3"):
        bus.publish("images", "k", value)
    return bus


def parse(message) -> int:
    if not message.value.isdigit():
        raise MalformedMessage("not a number")
    return int(message.value)


def remaining(bus, group="g") -> list[bytes]:
    """Values a restarted member of `group` would receive."""
    with bus.subscribe(["images"], group) as consumer:
        return [m.value for m in consumer.poll(100, 0)]


def test_the_parsed_messages_of_a_poll_reach_the_handler_in_one_call_and_are_committed(bus):
    calls = []
    stats = run_batches(bus.subscribe(["images"], "g"), parse, calls.append, bus, stop_when_idle=True)
    assert (calls, stats.handled, remaining(bus)) == ([[1, 3]], 2, [])


class RecordingConsumer:
    """Passes calls through to a real consumer and notes, in order, what the loop did."""

    def __init__(self, consumer, log):
        self.consumer, self.log = consumer, log

    def poll(self, max_records, timeout_s):
        batch = self.consumer.poll(max_records, timeout_s)
        self.log.append(("poll", len(batch)))
        return batch

    def commit(self, done):
        self.log += [("commit", m.offset) for m in done]
        self.consumer.commit(done)

    def close(self):
        self.consumer.close()


def test_a_poll_is_committed_only_after_its_handler_returned(bus):
    log = []
    consumer = RecordingConsumer(bus.subscribe(["images"], "g"), log)
    run_batches(consumer, parse, lambda batch: log.append(("handled", batch)), bus, max_records=2,
                stop_when_idle=True)
    assert [e for e in log if e[0] != "poll"] == [("handled", [1]), ("commit", 0), ("commit", 1),
                                                  ("handled", [3]), ("commit", 2)]


def test_stop_when_idle_ends_the_loop_at_the_first_empty_poll(bus):
    log = []
    run_batches(RecordingConsumer(bus.subscribe(["images"], "g"), log), parse, lambda batch: None, bus,
                max_records=2, stop_when_idle=True)
    assert [n for what, n in log if what == "poll"] == [2, 1, 0]


def test_a_malformed_message_goes_to_the_dead_letters_and_the_loop_goes_on(bus):
    stats = run_batches(bus.subscribe(["images"], "g"), parse, lambda batch: None, bus, stop_when_idle=True)
    (letter,) = bus.subscribe([DEAD_LETTERS], "inspect").poll(10, 0)
    assert (stats.handled, stats.dead_lettered, remaining(bus)) == (2, 1, [])
    assert events.from_bytes(DeadLetter, letter.value) == DeadLetter("images", 0, 1, "k", "not a number", b"x")


def test_without_a_retry_policy_a_failing_handler_stops_the_loop_and_its_whole_poll_is_delivered_again(bus):
    def handle(batch):
        if 3 in batch:
            raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        run_batches(bus.subscribe(["images"], "g"), parse, handle, bus, max_records=2, stop_when_idle=True)
    assert remaining(bus) == [b"3"]


def test_the_loop_closes_its_consumer(bus):
    consumer = bus.subscribe(["images"], "g")
    run_batches(consumer, parse, lambda batch: None, bus, stop_when_idle=True)
    with pytest.raises(RuntimeError):
        consumer.poll(1, 0)


def test_a_set_stop_event_ends_the_loop_before_the_next_poll(bus):
    stop = threading.Event()
    stats = run_batches(bus.subscribe(["images"], "g"), parse, lambda batch: stop.set(), bus, stop, max_records=1)
    assert (stats.handled, remaining(bus)) == (1, [b"x", b"3"])


def test_without_stop_when_idle_the_loop_polls_on_until_new_messages_come(bus):
    consumer, idle, stop, calls = bus.subscribe(["images"], "g"), threading.Event(), threading.Event(), []
    poll = consumer.poll

    def noting_poll(*args):
        batch = poll(*args)
        if not batch:
            idle.set()
        return batch

    def handle(batch):
        calls.append(batch)
        if len(calls) == 2:
            stop.set()

    consumer.poll = noting_poll
    loop = threading.Thread(target=run_batches, args=(consumer, parse, handle, bus, stop), daemon=True)
    loop.start()
    assert idle.wait(5) and loop.is_alive()
    bus.publish("images", "k", b"4")
    loop.join(5)
    assert calls == [[1, 3], [4]] and not loop.is_alive()
