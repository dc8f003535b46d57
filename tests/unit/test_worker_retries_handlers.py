"""The workers' handlers stay idempotent when a poll is retried after part of its work was done."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from segmad.discrepancy.handler import DiscrepancyHandler, parse
from segmad.ports.bus import DEAD_LETTERS, PREDICTIONS
from segmad.rounds import control
from segmad.runtime.consumer import run_batches
from segmad.runtime.retries import RetryPolicy
from round_world import ingest, make_ports, run_discrepancy, run_inference, start_round


def predicted(root):
    ports = make_ports(root)
    ingest(ports)
    start_round(ports, root)
    run_inference(ports)
    return ports


def test_heaps_mined_through_a_connection_lost_after_some_heaps_were_saved_equal_those_mined_without(tmp_path):
    clean = predicted(tmp_path / "clean")
    run_discrepancy(clean)
    ports = predicted(tmp_path / "flaky")
    merge, lost = ports.catalog.merge_heaps, []

    def merge_then_lose_the_connection(*args):
        merged = merge(*args)  # committed: the retry starts with the poll's heaps saved
        if not lost:  # one poll, one transaction: the connection is lost once, after its commit
            lost.append(sorted(args[1]))
            raise OperationalError("COMMIT", {}, ConnectionResetError("server closed the connection"))
        return merged

    ports.catalog.merge_heaps = merge_then_lose_the_connection
    stats = run_batches(ports.bus.subscribe([PREDICTIONS], "discrepancy"), parse, DiscrepancyHandler(ports).handle,
                        ports.bus, retry=RetryPolicy(attempts=3, wait_s=0, max_wait_s=0), stop_when_idle=True)
    assert len(lost) == 1 and stats.retried == 1 and stats.dead_lettered == 0
    assert control.candidates(ports, 1) == control.candidates(clean, 1)
    with ports.bus.subscribe([DEAD_LETTERS], "inspect") as letters:
        assert letters.poll(100, 0) == []
