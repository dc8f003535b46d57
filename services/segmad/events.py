"""Events on the bus (past tense): dataclasses in the code, the protobuf messages of proto/ on the wire.

Conversion happens only here, at the edge. Parsing is strict about meaning, lenient about
evolution: bytes that are not the message, or that decode to a message missing what a
consumer needs (protobuf reads b"" as an all-default message), raise MalformedMessage;
fields added by a newer producer are ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields

from google.protobuf.message import DecodeError, Message

from segmad.proto.v1 import dead_letters_pb2, images_pb2, predictions_pb2, rounds_pb2

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# The largest stored label map a PredictionReady carries a copy of: a 64 px map is under 1 KiB, a
# 512 px one about 10 KiB, so the discrepancy worker skips a store round trip per map; a larger one is
# only named, and fetched. (ImageIngested carries none: the inference worker's read of the stored
# image is also the check that the image a round will show people is there.)
COPY_BYTES = 64 * 1024


def copy_of(data: bytes) -> bytes:
    """What an event carries of a stored blob: the bytes if they are small enough, else nothing."""
    return data if len(data) <= COPY_BYTES else b""


class MalformedMessage(ValueError):
    """A message its handler cannot parse: dead-lettered and committed, never retried."""


@dataclass(frozen=True)
class ImageIngested:
    image_id: str
    sha256: str
    blob_key: str
    width: int
    height: int


@dataclass(frozen=True)
class PredictionReady:
    image_id: str
    model: str
    version: str
    blob_key: str
    fractions: list[float]  # per label 0..C
    label_map: bytes = b""  # a copy of the stored PNG when small (copy_of), else empty


@dataclass(frozen=True)
class RoundEvent:
    round: int
    state: str


@dataclass(frozen=True)
class DeadLetter:
    """A message no handler could parse or handle (after its retries), with where it came from and why
    (the error's type and message); its value unchanged."""

    topic: str
    partition: int
    offset: int
    key: str
    error: str
    value: bytes


def _missing(event, names: tuple[str, ...]) -> str | None:
    empty = [name for name in names if not getattr(event, name)]
    return f"empty {', '.join(empty)}" if empty else None


def _image_problem(e: ImageIngested) -> str | None:
    if not _SHA256.match(e.sha256):
        return f"sha256 {e.sha256!r} is not 64 lowercase hex digits"
    if e.width <= 0 or e.height <= 0:
        return f"size {e.width}x{e.height} is not positive"
    return _missing(e, ("image_id", "blob_key"))


def _prediction_problem(e: PredictionReady) -> str | None:
    if not e.fractions:
        return "no class fractions"
    if not all(math.isfinite(f) and 0.0 <= f <= 1.0 for f in e.fractions):
        return "a class fraction is outside [0, 1]"
    return _missing(e, ("image_id", "model", "version", "blob_key"))


def _round_problem(e: RoundEvent) -> str | None:
    return "negative round" if e.round < 0 else _missing(e, ("state",))


def _dead_letter_problem(e: DeadLetter) -> str | None:
    return _missing(e, ("topic",))


# event class -> (its protobuf message, what makes a decoded one unusable)
_WIRE: dict[type, tuple[type[Message], Callable[..., str | None]]] = {
    ImageIngested: (images_pb2.ImageIngested, _image_problem),
    PredictionReady: (predictions_pb2.PredictionReady, _prediction_problem),
    RoundEvent: (rounds_pb2.RoundEvent, _round_problem),
    DeadLetter: (dead_letters_pb2.DeadLetter, _dead_letter_problem),
}


def _wire(cls: type) -> tuple[type[Message], Callable[..., str | None]]:
    try:
        return _WIRE[cls]
    except KeyError:
        raise TypeError(f"{cls.__name__} is not a bus event") from None


def _plain(value):
    """A message field as a plain Python value: repeated fields become lists."""
    return value if isinstance(value, (str, bytes, int, float)) else list(value)


def to_bytes(event) -> bytes:
    """Wire form of an event (deterministic protobuf); ValueError if the event is unusable."""
    message_type, problem = _wire(type(event))
    if reason := problem(event):
        raise ValueError(f"cannot send this {type(event).__name__}: {reason}")
    message = message_type(**{f.name: getattr(event, f.name) for f in fields(event)})
    return message.SerializeToString(deterministic=True)


def from_bytes(cls, data: bytes):
    """Parse an event of type `cls`; MalformedMessage if the bytes are not a usable one."""
    message_type, problem = _wire(cls)
    message = message_type()
    try:
        message.ParseFromString(data)
    except DecodeError as error:
        raise MalformedMessage(f"not a {cls.__name__}: {error}") from error
    event = cls(**{f.name: _plain(getattr(message, f.name)) for f in fields(cls)})
    if reason := problem(event):
        raise MalformedMessage(f"not a usable {cls.__name__}: {reason}")
    return event
