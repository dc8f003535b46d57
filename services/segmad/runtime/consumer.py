"""The consume loop every worker runs around its handler: parse a poll, handle it, commit after the work.

Delivery is at-least-once (see the bus port): offsets are committed only once the handler has
done its work, and what cannot be parsed goes to the dead-letter topic instead of stopping the worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from segmad import events
from segmad.ports.bus import DEAD_LETTERS, Consumer, EventBus, Message

E = TypeVar("E")  # a parsed event


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
