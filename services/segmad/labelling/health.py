"""Probes and Prometheus metrics of the labelling service: /healthz, /metrics, counts per request."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, request_finished
from prometheus_client import CollectorRegistry, Counter

from segmad.runtime.probes import database_health, exposition

bp = Blueprint("health", __name__)
# Views whose success is a unit of annotators' work, counted by kind.
WORK = {"api.rate": "rating", "api.save_mask": "mask", "admin_api.import_mask": "import",
        "api.review": "review"}


class LabellingMetrics:
    """The service's counters, in one registry (one per app, so tests do not share them)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.requests = Counter("segmad_labelling_requests", "Requests answered, by endpoint and status",
                                ["endpoint", "status"], registry=self.registry)
        self.work = Counter("segmad_labelling_work", "Ratings, masks, imports and reviews saved, by kind",
                            ["kind"], registry=self.registry)

    def observe(self, endpoint: str | None, status: int) -> None:
        """Count one answered request, and the work it saved if it succeeded."""
        # The endpoint name, never the path: ids in paths would make a series per campaign and item.
        self.requests.labels(endpoint or "unmatched", str(status)).inc()
        if status < 400 and endpoint in WORK:
            self.work.labels(WORK[endpoint]).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type, summed over worker processes."""
        return exposition(self.registry)


def _metrics() -> LabellingMetrics:
    return current_app.extensions["segmad.labelling.metrics"]


def _observe(app, response: Response, **extra) -> None:
    app.extensions["segmad.labelling.metrics"].observe(request.endpoint, response.status_code)


@bp.record_once
def _install(state) -> None:
    state.app.extensions.setdefault("segmad.labelling.metrics", LabellingMetrics())
    # Sent once every after_request function ran, the commit of the request's work included: a
    # failed commit is counted as the 500 it turns into, not as saved work.
    request_finished.connect(_observe, state.app, weak=False)


@bp.get("/healthz")
def healthz():
    """200 while the database answers, 503 otherwise (no sign-in: probes call it)."""
    return database_health(current_app.extensions["segmad.engine"].connect)


@bp.get("/metrics")
def metrics():
    """Prometheus text exposition."""
    body, content_type = _metrics().exposition()
    return Response(body, content_type=content_type)
