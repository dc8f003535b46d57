"""Serving the ingestion app: gunicorn (threaded workers), JSON logs, graceful stop on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile

from segmad import bootstrap, settings
from segmad.runtime import gunicorn


def _create_app():
    # Imported in the worker, once PROMETHEUS_MULTIPROC_DIR is set: prometheus_client reads it on import.
    from segmad.ingestion.app import create_app

    return create_app()


def _close_ports(app) -> None:
    app.extensions["segmad.ingestion"].close()


@contextlib.contextmanager
def _shared_metrics():
    """Workers are processes: they add up their metrics through files in one directory for their lifetime."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    directory, master = tempfile.mkdtemp(prefix="segmad-ingestion-metrics-"), os.getpid()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    if "prometheus_client.values" in sys.modules:  # imported before the variable was set: choose again
        values = sys.modules["prometheus_client.values"]
        values.ValueClass = values.get_value_class()
    try:
        yield
    finally:
        # A worker's exit unwinds through here too (it was forked inside); only the master cleans up.
        if os.getpid() == master:
            shutil.rmtree(directory, ignore_errors=True)


def serve(host: str, port: int, workers: int = 2, threads: int = 8) -> int:
    """Run the app under gunicorn until SIGTERM or Ctrl-C; in-flight requests finish first."""
    # Migrate once here, not in each worker at once; each worker then opens its own pool.
    bootstrap.catalog(settings.load().database_url).engine.dispose()
    with _shared_metrics():
        return gunicorn.serve(_create_app, host, port, workers, threads, log_requests=True,
                              on_worker_exit=_close_ports)
