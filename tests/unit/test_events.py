"""Bus events: every event survives the protobuf round trip; bytes that are not one raise MalformedMessage."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from segmad import events
from segmad.adapters.bus import InMemoryBus
from segmad.ports.bus import DEAD_LETTERS, ROUNDS
from segmad.runtime.consumer import run_batches
from segmad.events import DeadLetter, ImageIngested, MalformedMessage, PredictionReady, RoundEvent
from segmad.proto.v1 import dead_letters_pb2, images_pb2, predictions_pb2

SHA = "ab" * 32
names = st.text(min_size=1, max_size=20)
sides = st.integers(1, 2**32 - 1)

image_events = st.builds(ImageIngested, names, st.text("0123456789abcdef", min_size=64, max_size=64), names,
                         sides, sides)
prediction_events = st.builds(PredictionReady, names, names, names, names,
                              st.lists(st.floats(0, 1), min_size=1, max_size=30), st.binary(max_size=64))
round_events = st.builds(RoundEvent, st.integers(0, 2**32 - 1), names)
dead_letters = st.builds(DeadLetter, names, st.integers(0, 2**31), st.integers(0, 2**63), st.text(), st.text(),
                         st.binary())


@given(st.one_of(image_events, prediction_events, round_events, dead_letters))
def test_every_event_survives_the_round_trip(event):
    assert events.from_bytes(type(event), events.to_bytes(event)) == event


def test_the_wire_form_is_protobuf():
    event = ImageIngested("img-1", SHA, "images/ab/x.png", 640, 480)
    message = images_pb2.ImageIngested.FromString(events.to_bytes(event))
    assert (message.image_id, message.width, message.height) == ("img-1", 640, 480)


def test_a_message_of_an_older_producer_carries_no_copy_and_only_small_blobs_are_copied():
    older = predictions_pb2.PredictionReady(image_id="a", model="m", version="v0", blob_key="k", fractions=[1.0])
    assert events.from_bytes(PredictionReady, older.SerializeToString()).label_map == b""
    assert events.copy_of(b"x" * events.COPY_BYTES) == b"x" * events.COPY_BYTES
    assert events.copy_of(b"x" * (events.COPY_BYTES + 1)) == b""


def test_fields_added_by_a_newer_producer_are_ignored():
    newer = events.to_bytes(RoundEvent(3, "mining")) + b"\x98\x06\x07"  # field 99, varint 7
    assert events.from_bytes(RoundEvent, newer) == RoundEvent(3, "mining")


@pytest.mark.parametrize("data", [b"{\"image_id\": \"a\"}", b"\xff\xff\xff", b"\n\x05ab"], ids=["json", "junk", "cut"])
def test_bytes_that_are_not_protobuf_are_malformed(data):
    with pytest.raises(MalformedMessage, match="not a ImageIngested"):
        events.from_bytes(ImageIngested, data)


def test_an_empty_message_is_malformed():
    with pytest.raises(MalformedMessage, match="sha256"):
        events.from_bytes(ImageIngested, b"")


def test_another_events_bytes_are_malformed():
    prediction = events.to_bytes(PredictionReady("img-1", "unet", "v0", "predictions/unet/v0/img-1.png", [1.0]))
    with pytest.raises(MalformedMessage):
        events.from_bytes(ImageIngested, prediction)


def test_a_prediction_without_fractions_is_malformed():
    message = predictions_pb2.PredictionReady(image_id="a", model="m", version="v", blob_key="k")
    with pytest.raises(MalformedMessage, match="no class fractions"):
        events.from_bytes(PredictionReady, message.SerializeToString())


def test_an_unusable_event_is_not_sent():
    with pytest.raises(ValueError, match="size 0x480"):
        events.to_bytes(ImageIngested("img-1", SHA, "k", 0, 480))


def test_only_bus_events_have_a_wire_form():
    with pytest.raises(TypeError, match="not a bus event"):
        events.to_bytes(object())


def test_a_dead_letter_travels_as_the_protobuf_message_of_proto():
    wire = dead_letters_pb2.DeadLetter.FromString(events.to_bytes(DeadLetter("images", 2, 9, "k", "bad", b"\xff")))
    assert (wire.topic, wire.partition, wire.offset, wire.key, wire.error, wire.value) == ("images", 2, 9, "k", "bad",
                                                                                         b"\xff")


def test_bytes_that_are_not_a_dead_letter_are_malformed():
    with pytest.raises(MalformedMessage):
        events.from_bytes(DeadLetter, b'{"topic": "images"}')


def test_a_consumer_parsing_events_dead_letters_junk_and_goes_on():
    bus = InMemoryBus(partitions=1)
    good = events.to_bytes(RoundEvent(1, "mining"))
    for value in (b"\xff junk", good):
        bus.publish(ROUNDS, "1", value)
    seen = []
    stats = run_batches(bus.subscribe([ROUNDS], "g"), lambda m: events.from_bytes(RoundEvent, m.value), seen.extend,
                        bus, stop_when_idle=True)
    with bus.subscribe([DEAD_LETTERS], "reader") as reader:
        [letter] = reader.poll(10, 0)
    assert seen == [RoundEvent(1, "mining")] and stats.dead_lettered == 1
    assert events.from_bytes(DeadLetter, letter.value).value == b"\xff junk"
