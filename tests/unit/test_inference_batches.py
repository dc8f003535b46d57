"""The per-poll consume loop the workers run: one handler call per poll, commit after it, dead letters."""

import pytest

from segmad.adapters.bus import DEAD_LETTERS, InMemoryBus, run_batches
from segmad.events import MalformedMessage


@pytest.fixture
def bus():
    bus = InMemoryBus(partitions=1)
    for value in (b"1", b"x", b"3"):
        bus.publish("images", "k", value)
    return bus


def parse(message):
    if not message.value.isdigit():
        raise MalformedMessage("not a number")
    return int(message.value)


def left(bus, topic="images", group="g"):
    with bus.subscribe([topic], group) as consumer:
        return [m.value for m in consumer.poll(100, 0)]


def test_the_parsable_messages_of_a_poll_reach_the_handler_in_one_call_and_are_committed(bus):
    calls = []
    stats = run_batches(bus.subscribe(["images"], "g"), parse, calls.append, bus, stop_when_idle=True)
    assert calls == [[1, 3]] and stats.handled == 2 and left(bus) == []


def test_an_unparsable_message_goes_to_the_dead_letters(bus):
    stats = run_batches(bus.subscribe(["images"], "g"), parse, lambda batch: None, bus, stop_when_idle=True)
    assert stats.dead_lettered == 1 and len(left(bus, DEAD_LETTERS, "reader")) == 1


def test_a_failing_handler_leaves_its_whole_poll_uncommitted(bus):
    def fail(batch):
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        run_batches(bus.subscribe(["images"], "g"), parse, fail, bus, stop_when_idle=True)
    assert left(bus) == [b"1", b"x", b"3"]
