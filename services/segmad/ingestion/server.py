"""Serving the ingestion app: gunicorn (threaded workers), JSON logs, graceful stop on SIGTERM."""

from __future__ import annotations

from segmad import bootstrap, settings
from segmad.runtime import gunicorn


def _create_app():
    # Imported in the worker, once PROMETHEUS_MULTIPROC_DIR is set: prometheus_client reads it on import.
    from segmad.ingestion.app import create_app

    return create_app()


def _close_ports(app) -> None:
    app.extensions["segmad.ingestion"].close()


def serve(host: str, port: int, workers: int = 2, threads: int = 8) -> int:
    """Run the app under gunicorn until SIGTERM or Ctrl-C; in-flight requests finish first."""
    # Migrate once here, not in each worker at once; each worker then opens its own pool.
    config = settings.load()
    bootstrap.catalog(config.database_url).engine.dispose()
    bootstrap.preload(config)  # what the workers' ports need, imported once here and shared
    with gunicorn.shared_metrics("ingestion"):
        return gunicorn.serve(_create_app, host, port, workers, threads, log_requests=True,
                              on_worker_exit=_close_ports)
