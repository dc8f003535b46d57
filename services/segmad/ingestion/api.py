"""HTTP entrypoints of the ingestion service: POST /images, /healthz, /metrics (thin: parse, call, map)."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, g, jsonify, request

from segmad.codec import sha256
from segmad.ingestion.outcome import DUPLICATE, INGESTED
from segmad.ingestion.service import prepare_bytes
from segmad.ingestion.store import store_batch
from segmad.runtime.probes import database_health

bp = Blueprint("ingestion", __name__)
log = logging.getLogger("segmad.ingestion")


def _service():
    return current_app.extensions["segmad.ingestion"]


@bp.before_app_request
def _start_clock():
    g.started = time.perf_counter()


@bp.after_app_request
def _observe(response: Response) -> Response:
    if request.endpoint == "ingestion.upload":
        _service().metrics.latency.labels(str(response.status_code)).observe(time.perf_counter() - g.started)
    return response


@bp.post("/images")
def upload():
    """Ingest each file of the multipart field `image`; `image_id` names a single file's image."""
    files = request.files.getlist("image")
    if not files:
        return jsonify(error="send the image file(s) in the multipart field 'image'"), 400
    image_id = request.form.get("image_id") or None
    if image_id and len(files) > 1:
        return jsonify(error="image_id names one image; send one file with it"), 400
    service, prepared = _service(), []
    for upload in files:
        data = upload.read()
        # Named by content too: two different files both called photo.jpg keep separate rejection records.
        source = f"upload:{sha256(data)[:16]}:{upload.filename or 'unnamed'}"
        prepared.append(prepare_bytes(data, source, image_id, service.limits))
    results = []
    for outcome in store_batch(service.ports, prepared):  # one batch: announced once stored and catalogued
        service.metrics.count(outcome)
        log.info(outcome.status, extra={"source": outcome.source, "image_id": outcome.image_id,
                                        "reason": outcome.reason})
        results.append({"source": outcome.source, "status": outcome.status, "image_id": outcome.image_id,
                        "reason": outcome.reason})
    statuses = {r["status"] for r in results}
    code = 201 if INGESTED in statuses else 200 if DUPLICATE in statuses else 422
    return jsonify(results=results), code


@bp.get("/healthz")
def healthz():
    """200 while the catalog answers, 503 otherwise."""
    return database_health(_service().ports.catalog.connect)


@bp.get("/metrics")
def metrics():
    """Prometheus text exposition."""
    body, content_type = _service().metrics.exposition()
    return Response(body, content_type=content_type)
