"""The consume loop every worker runs around its handler: parse a poll, handle it, commit after the work.

Delivery is at-least-once (see the bus port): a poll is committed only once each of its messages was
handled or sent to the dead-letter topic. What cannot be parsed goes there at once. With a retry policy,
a handler error is tried again while it is transient; a poll that still fails is handled one message at a
time, and a message that keeps failing goes there with its reason, so one poison message does not stop
the worker, even one that fails for a transient reason (a TorchServe 503 on that image alone). Only two
messages in a row that fail for transient reasons, with none going through between them, stop the loop:
a server is down, the messages are not to blame. Handlers are idempotent, so work a failed try left half
done is redone harmlessly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from segmad import events
from segmad.ports.bus import DEAD_LETTERS, Consumer, EventBus, Message
from segmad.runtime.retries import RetryPolicy, is_transient, reason

E = TypeVar("E")  # a parsed event
log = logging.getLogger("segmad.consumer")


@dataclass
class LoopStats:
    """What a consume loop did: messages handled, messages sent to the dead letters, handler calls retried."""

    handled: int = 0
    dead_lettered: int = 0
    retried: int = 0


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
    retry: RetryPolicy | None = None,
    on_dead_letter: Callable[[events.DeadLetter], None] | None = None,
) -> LoopStats:
    """Hand `handle` the parsed messages of each poll at once, then commit the poll; closes the consumer at the end.

    `handle` does its work (and its database commit) before returning, and batching lets a worker
    predict or save heaps once per poll. A message `parse` refuses with MalformedMessage goes to the
    dead-letter topic. With `retry`, a handler error is retried as the policy says; if the poll still
    fails, each message is handled alone (with its retries) and one that still fails is dead-lettered
    with its error's type and message, unless it is the second message in a row, in this poll or across
    polls, to fail with a transient error with none going through between them (an outage: the loop
    stops). Without `retry` (tests that simulate a crash), a handler error stops the loop. A stopping
    error is re-raised (so is any error of the bus) and leaves the poll uncommitted, so it is delivered
    again. `on_dead_letter` sees every letter sent. Stops between polls when `stop_event` is set (during
    retries, leaving the poll uncommitted) or, with `stop_when_idle` (tests, one-off drains), when a
    poll finds nothing new.
    """
    stats = LoopStats()
    stopping = stop_event.is_set if stop_event is not None else (lambda: False)
    failing_in_a_row = 0  # messages that failed for transient reasons since the last one went through

    def dead_letter(message: Message, why: str) -> None:
        letter = events.DeadLetter(message.topic, message.partition, message.offset, message.key, why, message.value)
        dead_letters.publish(DEAD_LETTERS, message.key, events.to_bytes(letter))
        stats.dead_lettered += 1
        log.warning("dead-lettered", extra={"topic": message.topic, "partition": message.partition,
                                            "offset": message.offset, "error": why})
        if on_dead_letter is not None:
            on_dead_letter(letter)

    def retried(state) -> None:
        stats.retried += 1
        log.warning("handler failed, trying again", extra={"attempt": state.attempt_number,
                                                          "error": reason(state.outcome.exception())})

    def failure(parsed: list[tuple[Message, E]]) -> Exception | None:
        """The error that handling `parsed` still raised after its retries, None once handled."""
        try:
            retry.retrying(stop_event, retried)(handle, [event for _, event in parsed])
        except Exception as error:
            return error
        stats.handled += len(parsed)
        return None

    def handle_poll(parsed: list[tuple[Message, E]]) -> bool:
        """Handle or dead-letter every message of a poll; False when stopped before that was done."""
        nonlocal failing_in_a_row
        if retry is None:
            handle([event for _, event in parsed])
            stats.handled += len(parsed)
            return True
        error = failure(parsed)
        if error is None:
            failing_in_a_row = 0
            return True
        culprits = [(parsed[0][0], error)]
        if len(parsed) > 1:
            # Which message is poison? Each alone: a good one's work is redone, which handlers allow.
            culprits = []
            for one in parsed:
                if stopping():
                    return False
                if (error := failure([one])) is not None:
                    culprits.append((one[0], error))
        if stopping():
            return False  # a failure may be the stop cutting retries short: not a reason to dead-letter
        if len(culprits) < len(parsed):
            failing_in_a_row = 0  # the servers answered for another message: these are to blame
        elif all(is_transient(error) for _, error in culprits):
            failing_in_a_row += len(culprits)
            if failing_in_a_row > 1:
                # Not one message went through since, and only for reasons that may clear: a server is
                # down, the messages are not to blame. Stop, leaving the poll to be delivered again.
                raise culprits[-1][1]
        for message, error in culprits:
            dead_letter(message, reason(error))
        return True

    try:
        while not stopping():
            batch = consumer.poll(max_records, timeout_s)
            if not batch and stop_when_idle:
                break
            parsed = []
            for message in batch:
                try:
                    parsed.append((message, parse(message)))
                except events.MalformedMessage as error:
                    dead_letter(message, str(error))
            if parsed and not handle_poll(parsed):
                break  # stopped while retrying: the poll stays uncommitted and is delivered again
            if batch:
                dead_letters.flush()  # dead letters stored before their offsets are committed
                consumer.commit(batch)
    finally:
        consumer.close()
    return stats
