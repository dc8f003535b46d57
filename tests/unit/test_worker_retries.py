"""No poison message loops a worker: transient errors are retried, a message that keeps failing is dead-lettered."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from segmad import events
from segmad.adapters.bus import InMemoryBus
from segmad.events import DeadLetter
from segmad.ports.bus import DEAD_LETTERS
from segmad.runtime.consumer import run_batches
from segmad.runtime.retries import RetryPolicy
from segmad.runtime.worker import WorkerMetrics, consume
from segmad.settings import Settings

QUICK = RetryPolicy(attempts=3, wait_s=0, max_wait_s=0)


@pytest.fixture
def bus():
    bus = InMemoryBus(partitions=1)
    for value in (b"1", b"2", b"3"):
        bus.publish("images", "k", value)
    return bus


def parse(message) -> int:
    return int(message.value)


def remaining(bus, group="g") -> list[bytes]:
    """Values a restarted member of `group` would receive."""
    with bus.subscribe(["images"], group) as consumer:
        return [m.value for m in consumer.poll(100, 0)]


def letters(bus) -> list[DeadLetter]:
    with bus.subscribe([DEAD_LETTERS], "inspect") as consumer:
        return [events.from_bytes(DeadLetter, m.value) for m in consumer.poll(100, 0)]


class Handler:
    """Notes every batch it is given and raises what `fails(batch, tries_so_far)` returns."""

    def __init__(self, fails):
        self.fails, self.calls, self.done = fails, [], []

    def __call__(self, batch):
        self.calls.append(batch)
        if error := self.fails(batch, len(self.calls)):
            raise error
        self.done += batch


def test_a_poison_message_is_dead_lettered_with_its_reason_after_its_tries_and_the_others_are_handled(bus):
    handler = Handler(lambda batch, n: 2 in batch and ConnectionError("TorchServe answered 503"))
    stats = run_batches(bus.subscribe(["images"], "g"), parse, handler, bus, retry=QUICK, stop_when_idle=True)
    assert handler.calls.count([2]) == QUICK.attempts and sorted(handler.done) == [1, 3]
    assert letters(bus) == [DeadLetter("images", 0, 1, "k", "ConnectionError: TorchServe answered 503", b"2")]
    assert (stats.handled, stats.dead_lettered, remaining(bus)) == (2, 1, [])


def test_a_transient_error_that_clears_on_the_second_try_is_retried_and_nothing_is_dead_lettered(bus):
    handler = Handler(lambda batch, n: n == 1 and TimeoutError("S3 read timed out"))
    stats = run_batches(bus.subscribe(["images"], "g"), parse, handler, bus, retry=QUICK, stop_when_idle=True)
    assert handler.calls == [[1, 2, 3], [1, 2, 3]] and handler.done == [1, 2, 3]
    assert (stats.retried, stats.dead_lettered, letters(bus), remaining(bus)) == (1, 0, [], [])


def test_a_permanent_error_is_not_retried(bus):
    handler = Handler(lambda batch, n: 2 in batch and ValueError("image is not a PNG"))
    stats = run_batches(bus.subscribe(["images"], "g"), parse, handler, bus, retry=QUICK, stop_when_idle=True)
    assert handler.calls == [[1, 2, 3], [1], [2], [3]] and stats.retried == 0
    assert [letter.error for letter in letters(bus)] == ["ValueError: image is not a PNG"]


def test_a_lone_failing_message_is_dead_lettered_without_being_handled_again(bus):
    handler = Handler(lambda batch, n: 2 in batch and ValueError("bad"))
    run_batches(bus.subscribe(["images"], "g"), parse, handler, bus, max_records=1, retry=QUICK, stop_when_idle=True)
    assert handler.calls == [[1], [2], [3]] and [letter.offset for letter in letters(bus)] == [1]


def test_a_stop_during_retries_leaves_the_poll_uncommitted_and_dead_letters_nothing(bus):
    stop = threading.Event()

    def fails(batch, n):
        stop.set()  # SIGTERM while the database is down
        return ConnectionError("database down")

    policy = RetryPolicy(attempts=5, wait_s=60, max_wait_s=60)  # the stop cuts the waits short
    started = time.monotonic()
    run_batches(bus.subscribe(["images"], "g"), parse, Handler(fails), bus, stop, retry=policy)
    assert time.monotonic() - started < 10
    assert (letters(bus), remaining(bus)) == ([], [b"1", b"2", b"3"])


def test_the_waits_between_tries_double_up_to_the_longest():
    stop, waits = threading.Event(), []
    stop.wait = waits.append  # the policy sleeps on the stop event, so that a stop ends a wait
    with pytest.raises(ConnectionError):
        RetryPolicy(attempts=5, wait_s=0.5, max_wait_s=1.5).retrying(stop)(Handler(lambda *_: ConnectionError()), [])
    assert waits == [0.5, 1.0, 1.5, 1.5]


def test_a_retry_policy_needs_one_try_at_least():
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def wait_for(condition, timeout_s=5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_worker_dead_letters_a_poison_message_counts_it_and_goes_on_consuming(bus):
    handler, metrics, stop, failures = SimpleNamespace(), WorkerMetrics("probe"), threading.Event(), []
    handler.handle = Handler(lambda batch, n: 2 in batch and KeyError("no such round"))
    member = threading.Thread(target=consume, args=(SimpleNamespace(bus=bus), ["images"], "g", parse, handler,
                                                    metrics, stop, failures), daemon=True)
    member.start()
    try:
        assert wait_for(lambda: metrics.events._value.get() == 2 and metrics.dead_letters._value.get() == 1)
        assert member.is_alive() and failures == []  # what the worker's /healthz answers 200 for
        bus.publish("images", "k", b"4")
        assert wait_for(lambda: metrics.events._value.get() == 3)
    finally:
        stop.set()
        member.join(5)
    assert sorted(handler.handle.done) == [1, 3, 4] and remaining(bus) == []


def test_the_policy_comes_from_the_settings(monkeypatch):
    monkeypatch.setenv("SEGMAD_RETRY_ATTEMPTS", "5")
    monkeypatch.setenv("SEGMAD_RETRY_WAIT_S", "0.1")
    monkeypatch.setenv("SEGMAD_RETRY_MAX_WAIT_S", "2")
    assert RetryPolicy.from_settings(Settings()) == RetryPolicy(attempts=5, wait_s=0.1, max_wait_s=2.0)


def test_when_no_message_of_a_poll_goes_through_for_a_transient_reason_the_loop_stops_and_dead_letters_nothing(bus):
    handler = Handler(lambda batch, n: ConnectionError("database down"))
    with pytest.raises(ConnectionError):
        run_batches(bus.subscribe(["images"], "g"), parse, handler, bus, retry=QUICK, stop_when_idle=True)
    assert len(handler.calls) == QUICK.attempts * 4  # the poll, then each message alone
    assert (letters(bus), remaining(bus)) == ([], [b"1", b"2", b"3"])
