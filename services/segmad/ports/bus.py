"""The event-bus port: keyed messages on named topics, read by consumer groups.

Delivery is at-least-once: a consumer group resumes after its last committed offset, so a message
handled but not committed is delivered again after a restart. Keys pick the partition, so every
message about one image lands on one partition, in order.
"""

from __future__ import annotations

import abc
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple


IMAGES = "images"
PREDICTIONS = "predictions"
ROUNDS = "rounds"
DEAD_LETTERS = "dead-letters"

TOPICS = (IMAGES, PREDICTIONS, ROUNDS, DEAD_LETTERS)


class TopicPartition(NamedTuple):
    topic: str
    partition: int


@dataclass(frozen=True)
class Message:
    """One record as a consumer receives it."""

    topic: str
    partition: int
    offset: int
    key: str
    value: bytes

    @property
    def topic_partition(self) -> TopicPartition:
        """Where this message lives."""
        return TopicPartition(self.topic, self.partition)


# What `Consumer.commit` accepts: handled messages, or the next offset to read per partition.
Commit = Message | Iterable[Message] | Mapping[TopicPartition, int]


def next_offsets(done: Commit) -> dict[TopicPartition, int]:
    """The offsets to commit (last handled + 1) per partition for messages or an offset map."""
    if isinstance(done, Mapping):
        return {TopicPartition(*tp): int(offset) for tp, offset in done.items()}
    messages = [done] if isinstance(done, Message) else list(done)
    offsets: dict[TopicPartition, int] = {}
    for m in messages:
        offsets[m.topic_partition] = max(offsets.get(m.topic_partition, 0), m.offset + 1)
    return offsets


class Consumer(abc.ABC):
    """A member of a consumer group reading some topics."""

    @abc.abstractmethod
    def poll(self, max_records: int = 100, timeout_s: float = 1.0) -> list[Message]:
        """Up to max_records new messages, waiting at most timeout_s for the first; [] if none came."""

    @abc.abstractmethod
    def commit(self, done: Commit) -> None:
        """Record messages (or next offsets) as handled, so the group never receives them again."""

    @abc.abstractmethod
    def close(self) -> None:
        """Leave the group; uncommitted messages go to whoever reads these partitions next."""

    def __enter__(self) -> "Consumer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EventBus(abc.ABC):
    """Keyed messages on named topics, read by consumer groups."""

    @abc.abstractmethod
    def publish(self, topic: str, key: str, value: bytes) -> None:
        """Append a message; messages with one key keep their order."""

    @abc.abstractmethod
    def subscribe(self, topics: Iterable[str], group: str, max_handle_s: float | None = None) -> Consumer:
        """A new consumer in `group`, starting after the group's committed offsets (or at the start).

        `max_handle_s`: how long the loop may take to handle one poll before the group thinks this
        member dead and hands its partitions to another (None: the adapter's default).
        """

    def flush(self) -> None:
        """Block until every published message is stored (a no-op where publish is synchronous)."""

    def close(self) -> None:
        """Release connections (a no-op for the embedded bus)."""


def partition_for(key: str, partitions: int) -> int:
    """The partition of a key: a hash that is the same in every process and run."""
    return zlib.crc32(key.encode("utf-8")) % partitions
