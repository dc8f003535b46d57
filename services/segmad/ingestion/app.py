"""The ingestion service's Flask app factory."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from segmad.ingestion.limits import Limits
from segmad.ingestion.metrics import IngestionMetrics
from segmad.ports import Ports

_MULTIPART_OVERHEAD = 64 * 1024  # room for the form fields beside the files


@dataclass
class IngestionService:
    """What the views need: the ports, the limits, the metrics."""

    ports: Ports
    limits: Limits
    metrics: IngestionMetrics

    def close(self) -> None:
        """Deliver what was published and release connections."""
        self.ports.bus.flush()
        self.ports.close()


def create_app(test_config: dict | None = None) -> Flask:
    """The app; `test_config` may give PORTS (else built from SEGMAD_*) and LIMITS (else SEGMAD_INGEST_*)."""
    from segmad import bootstrap
    from segmad.ingestion import api
    from segmad.ingestion.limits import limits_from_env

    app = Flask(__name__)
    config = dict(test_config or {})
    ports = config.pop("PORTS", None) or bootstrap.build()
    limits = config.pop("LIMITS", None) or limits_from_env()
    app.config.update(MAX_CONTENT_LENGTH=limits.max_bytes + _MULTIPART_OVERHEAD)
    app.config.update(config)
    app.extensions["segmad.ingestion"] = IngestionService(ports, limits, IngestionMetrics())
    app.register_blueprint(api.bp)
    return app
