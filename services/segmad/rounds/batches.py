"""A consume loop that hands a handler every parsable message of one poll at once.

Same contract as `adapters.bus.run_consumer` (commit after the handler, dead letters for what
cannot be parsed, close in finally); batching lets a worker predict or save heaps once per poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from segmad.adapters.bus import DEAD_LETTERS, Consumer, DeadLetter, EventBus, LoopStats, MalformedMessage, Message

E = TypeVar("E")


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
    """Parse each polled message (MalformedMessage → dead letter), handle the rest, then commit the poll."""
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
                except MalformedMessage as error:
                    dead_letters.publish(DEAD_LETTERS, message.key, DeadLetter.of(message, error).to_bytes())
                    stats.dead_lettered += 1
            if parsed:
                handle(parsed)  # an error here leaves the whole poll uncommitted: it comes again
            if batch:
                dead_letters.flush()  # dead letters stored before their offsets are committed
                consumer.commit(batch)
                stats.handled += len(parsed)
    finally:
        consumer.close()
    return stats
