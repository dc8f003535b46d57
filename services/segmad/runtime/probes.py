"""What every HTTP service answers to its probes: /healthz from the database, /metrics in Prometheus text."""

from __future__ import annotations

import os
from collections.abc import Callable

from flask import Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text


def database_health(connect: Callable) -> tuple[Response, int]:
    """200 while `connect()` gives a connection that answers, 503 (with the reason) otherwise."""
    try:
        with connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # any failure to reach the database means not healthy
        return jsonify(status="unavailable", error=str(error)), 503
    return jsonify(status="ok"), 200


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text format and its content type; summed over worker processes when they share a directory
    (PROMETHEUS_MULTIPROC_DIR, set by `runtime.gunicorn.shared_metrics`)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
