"""segmad's services by name: the module whose serve(host, port, workers, threads) -> int runs each."""

from __future__ import annotations

SERVICES: dict[str, str] = {
    "labelling": "segmad.labelling.server",
    "ingestion": "segmad.ingestion.server",
    "inference": "segmad.inference.server",
    "discrepancy": "segmad.discrepancy.server",
    "trainer": "segmad.trainer.server",
}
# --workers when not given: 2 (processes of a web service, consumer members of a worker), except these.
DEFAULT_WORKERS = {"discrepancy": 1, "trainer": 1}
