"""`segmad serve discrepancy`: the discrepancy worker as a service (consumer group "discrepancy")."""

from __future__ import annotations

from segmad.discrepancy.handler import TOPICS, DiscrepancyHandler, parse
from segmad.errors import InputError
from segmad.runtime.worker import serve_worker


def serve(host: str, port: int, workers: int = 1, threads: int = 1) -> int:
    """Consume predictions with `workers` members until SIGTERM (`threads` is unused).

    Members (these threads, or more processes of the group) each read their own partitions and
    merge the heaps they change into the catalog under a per-heap lock, so any number may run;
    more members than the topic has partitions leaves the extra ones idle.
    """
    if workers < 1:
        raise InputError(f"--workers must be at least 1 for the discrepancy worker, got {workers}")
    return serve_worker("discrepancy", TOPICS, parse, DiscrepancyHandler, host, port, members=workers)
