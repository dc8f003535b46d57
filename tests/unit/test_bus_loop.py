"""The consume loop: commit after the handler, dead-letter what cannot be parsed, stop cleanly."""

from __future__ import annotations

import threading

import pytest

from segmad.adapters.bus import DEAD_LETTERS, DeadLetter, InMemoryBus, MalformedMessage, run_consumer
from segmad.proto.v1 import dead_letters_pb2


@pytest.fixture
def bus():
    bus = InMemoryBus(partitions=1)
    for value in (b"1", b"2", b"3"):
        bus.publish("images", "k", value)
    return bus


def remaining(bus, group="g") -> list[bytes]:
    """Values a restarted member of `group` would receive."""
    with bus.subscribe(["images"], group) as consumer:
        return [m.value for m in consumer.poll(100, 0)]


def test_handled_messages_are_committed(bus):
    run_consumer(bus.subscribe(["images"], "g"), lambda m: None, bus, stop_when_idle=True)
    assert remaining(bus) == []


class RecordingConsumer:
    """Passes calls through to a real consumer and notes, in order, what the loop did."""

    def __init__(self, consumer, events):
        self.consumer, self.events = consumer, events

    def poll(self, max_records, timeout_s):
        return self.consumer.poll(max_records, timeout_s)

    def commit(self, done):
        self.events += [("commit", m.offset) for m in done]
        self.consumer.commit(done)

    def close(self):
        self.consumer.close()


def test_a_message_is_committed_only_after_its_handler_returned(bus):
    events = []
    consumer = RecordingConsumer(bus.subscribe(["images"], "g"), events)
    run_consumer(consumer, lambda m: events.append(("handled", m.offset)), bus, stop_when_idle=True)
    for offset in range(3):
        assert events.index(("handled", offset)) < events.index(("commit", offset))


def test_a_malformed_message_goes_to_the_dead_letters_and_the_loop_goes_on(bus):
    def handle(message):
        if message.value == b"2":
            raise MalformedMessage("not a protobuf")

    stats = run_consumer(bus.subscribe(["images"], "g"), handle, bus, stop_when_idle=True)
    (letter,) = bus.subscribe([DEAD_LETTERS], "inspect").poll(10, 0)
    assert (stats.handled, stats.dead_lettered, remaining(bus)) == (2, 1, [])
    assert DeadLetter.from_bytes(letter.value) == DeadLetter("images", 0, 1, "k", "not a protobuf", b"2")


def test_a_failing_handler_stops_the_loop_and_its_message_is_delivered_again(bus):
    def handle(message):
        if message.value == b"2":
            raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        run_consumer(bus.subscribe(["images"], "g"), handle, bus, stop_when_idle=True)
    assert remaining(bus) == [b"2", b"3"]


def test_the_loop_closes_its_consumer(bus):
    consumer = bus.subscribe(["images"], "g")
    run_consumer(consumer, lambda m: None, bus, stop_when_idle=True)
    with pytest.raises(RuntimeError):
        consumer.poll(1, 0)


def test_a_set_stop_event_ends_the_loop_before_the_next_message(bus):
    stop = threading.Event()
    stats = run_consumer(bus.subscribe(["images"], "g"), lambda m: stop.set(), bus, stop)
    assert (stats.handled, remaining(bus)) == (1, [b"2", b"3"])


def test_a_dead_letter_survives_its_round_trip_through_bytes():
    letter = DeadLetter("predictions", 3, 17, "img-9", "bad field", b"\x00\xff")
    assert DeadLetter.from_bytes(letter.to_bytes()) == letter


def test_a_dead_letter_travels_as_the_protobuf_message_of_proto():
    wire = dead_letters_pb2.DeadLetter.FromString(DeadLetter("images", 2, 9, "k", "bad", b"\xff").to_bytes())
    assert (wire.topic, wire.partition, wire.offset, wire.key, wire.error, wire.value) == ("images", 2, 9, "k", "bad",
                                                                                         b"\xff")


def test_bytes_that_are_not_a_dead_letter_are_malformed():
    with pytest.raises(MalformedMessage):
        DeadLetter.from_bytes(b'{"topic": "images"}')
