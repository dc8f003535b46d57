"""Serving the ingestion app: gunicorn (threaded workers), JSON logs, graceful stop on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile

from gunicorn.app.base import BaseApplication

from segmad import bootstrap, settings
from segmad.ingestion.logs import logging_config


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Called in each worker after the fork: every worker builds its own ports (pools, producers).
        from segmad.ingestion.app import create_app

        return create_app()


def _close_ports(server, worker) -> None:
    worker.wsgi.extensions["segmad.ingestion"].close()


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
        _Gunicorn({"bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
                   "graceful_timeout": 30, "keepalive": 30, "logconfig_dict": logging_config(),
                   "worker_exit": _close_ports}).run()
    return 0
