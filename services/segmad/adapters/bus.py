"""The event-bus port, its embedded adapter (an in-process log) and the consume loop around a handler.

Delivery is at-least-once: a consumer group resumes after its last committed offset, so a message
handled but not committed is delivered again after a restart. Keys pick the partition, so every
message about one image lands on one partition, in order.
"""

from __future__ import annotations

import abc
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from segmad import events

IMAGES = "images"
PREDICTIONS = "predictions"
ROUNDS = "rounds"
DEAD_LETTERS = "dead-letters"

E = TypeVar("E")  # a parsed event
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


class InMemoryBus(EventBus):
    """Topics as in-process lists, shared by threads (the embedded default); gone when the process ends."""

    def __init__(self, partitions: int = 4):
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        self.partitions = partitions
        self._logs: dict[TopicPartition, list[tuple[str, bytes]]] = {}
        self._committed: dict[str, dict[TopicPartition, int]] = {}
        self._members: dict[str, list["_InMemoryConsumer"]] = {}
        self._changed = threading.Condition()

    def publish(self, topic: str, key: str, value: bytes) -> None:
        if not isinstance(key, str) or not isinstance(value, bytes):
            raise TypeError("a message needs a str key and a bytes value")
        tp = TopicPartition(topic, partition_for(key, self.partitions))
        with self._changed:
            self._logs.setdefault(tp, []).append((key, value))
            self._changed.notify_all()

    def subscribe(self, topics: Iterable[str], group: str, max_handle_s: float | None = None) -> Consumer:
        # In one process a member cannot die unseen: no liveness deadline to honour.
        consumer = _InMemoryConsumer(self, tuple(topics), group)
        with self._changed:
            self._members.setdefault(group, []).append(consumer)
        return consumer

    def _assignment(self, consumer: "_InMemoryConsumer") -> list[TopicPartition]:
        """Partitions of this member: partition p of a topic goes to its (p mod n)-th reader in the group."""
        assigned = []
        for topic in consumer.topics:
            readers = [c for c in self._members[consumer.group] if topic in c.topics]
            me = readers.index(consumer)
            assigned += [TopicPartition(topic, p) for p in range(self.partitions) if p % len(readers) == me]
        return assigned


class _InMemoryConsumer(Consumer):
    def __init__(self, bus: InMemoryBus, topics: tuple[str, ...], group: str):
        self.bus, self.topics, self.group = bus, topics, group
        self._positions: dict[TopicPartition, int] = {}
        self._closed = False

    def _fetch(self, max_records: int) -> list[Message]:
        committed = self.bus._committed.get(self.group, {})
        assigned = self.bus._assignment(self)
        # A partition this member just gained resumes at the group's commit, as after a Kafka rebalance.
        self._positions = {tp: self._positions.get(tp, committed.get(tp, 0)) for tp in assigned}
        batch: list[Message] = []
        for tp in assigned:
            log = self.bus._logs.get(tp, [])
            start = self._positions[tp]
            taken = log[start:start + max_records - len(batch)]
            batch += [Message(tp.topic, tp.partition, start + i, key, value) for i, (key, value) in enumerate(taken)]
            self._positions[tp] = start + len(taken)
        return batch

    def poll(self, max_records: int = 100, timeout_s: float = 1.0) -> list[Message]:
        if self._closed:
            raise RuntimeError("poll on a closed consumer")
        with self.bus._changed:
            return self.bus._changed.wait_for(lambda: self._fetch(max_records), timeout=timeout_s)

    def commit(self, done: Commit) -> None:
        with self.bus._changed:
            self.bus._committed.setdefault(self.group, {}).update(next_offsets(done))

    def close(self) -> None:
        with self.bus._changed:
            if not self._closed:
                self._closed = True
                self.bus._members[self.group].remove(self)


@dataclass
class LoopStats:
    """What a consume loop did: messages handled, messages sent to the dead letters."""

    handled: int = 0
    dead_lettered: int = 0


def run_batches(
    consumer: Consumer,
    parse: Callable[[Message], E],
    handle: Callable[[list[E]], None],
    dead_letters: EventBus,
    stop_event: threading.Event | None = None,
    *,
    max_records: int = 100,
    timeout_s: float = 0.2,
    stop_when_idle: bool = False,
) -> LoopStats:
    """Hand `handle` the parsed messages of each poll at once, then commit the poll; closes the consumer at the end.

    `handle` does its work (and its database commit) before returning, and batching lets a worker
    predict or save heaps once per poll. A message `parse` refuses with MalformedMessage goes to the
    dead-letter topic; any other error stops the loop and is re-raised, leaving the whole poll
    uncommitted so it is delivered again. Stops between polls when `stop_event` is set or, with
    `stop_when_idle` (tests, one-off drains), when a poll finds nothing new.
    """
    stats = LoopStats()
    stopping = stop_event.is_set if stop_event is not None else (lambda: False)
    try:
        while not stopping():
            batch = consumer.poll(max_records, timeout_s)
            if not batch and stop_when_idle:
                break
            parsed = []
            for message in batch:
                try:
                    parsed.append(parse(message))
                except events.MalformedMessage as error:
                    letter = events.DeadLetter(message.topic, message.partition, message.offset, message.key,
                                               str(error), message.value)
                    dead_letters.publish(DEAD_LETTERS, message.key, events.to_bytes(letter))
                    stats.dead_lettered += 1
            if parsed:
                handle(parsed)
            if batch:
                dead_letters.flush()  # dead letters stored before their offsets are committed
                consumer.commit(batch)
                stats.handled += len(parsed)
    finally:
        consumer.close()
    return stats
