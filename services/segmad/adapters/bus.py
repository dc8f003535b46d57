"""The event bus's embedded adapter: an in-process log with partitions and consumer groups."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from segmad.ports.bus import Commit, Consumer, EventBus, Message, TopicPartition, next_offsets, partition_for


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
