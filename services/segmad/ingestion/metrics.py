"""Prometheus metrics of the ingestion service: outcomes, rejection reasons, request latency."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from segmad.ingestion.outcome import Outcome
from segmad.runtime.probes import exposition


class IngestionMetrics:
    """The service's counters and histogram, in one registry (one per app, so tests do not share them)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.images = Counter("segmad_ingestion_images", "Inputs handled, by outcome", ["outcome"],
                              registry=self.registry)
        self.rejections = Counter("segmad_ingestion_rejections", "Rejected inputs, by reason", ["reason"],
                                  registry=self.registry)
        self.latency = Histogram("segmad_ingestion_request_seconds", "Time to answer POST /images, by status",
                                 ["status"], registry=self.registry)

    def count(self, outcome: Outcome) -> None:
        """Count one input's outcome."""
        self.images.labels(outcome.status).inc()
        if outcome.reason_code:
            self.rejections.labels(outcome.reason_code).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type, summed over worker processes."""
        return exposition(self.registry)
