"""`segmad serve discrepancy`: the discrepancy worker as a service (consumer group "discrepancy")."""

from __future__ import annotations

import logging

from segmad.discrepancy.handler import TOPICS, DiscrepancyHandler, parse
from segmad.rounds.worker import serve_worker


def serve(host: str, port: int, workers: int = 1, threads: int = 1) -> int:
    """Consume predictions with one member until SIGTERM (`workers` and `threads` are not used).

    One member only: each member would save whole heaps from its own view of the pool, and
    members saving one heap at once would overwrite each other's images.
    """
    if workers != 1:
        logging.getLogger("segmad.discrepancy").warning("the discrepancy worker runs one member; --workers ignored")
    return serve_worker("discrepancy", TOPICS, parse, DiscrepancyHandler, host, port, members=1)
