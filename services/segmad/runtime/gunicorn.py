"""A Flask app under gunicorn: threaded workers that each build their own app, JSON logs, graceful stop."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator

from flask import Flask
from gunicorn.app.base import BaseApplication

from segmad.runtime.logs import logging_config


class _Application(BaseApplication):
    def __init__(self, create_app: Callable[[], Flask], options: dict):
        self.create_app, self.options = create_app, options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Called in each worker after the fork: every worker opens its own pools, clients and producers.
        return self.create_app()


def serve(create_app: Callable[[], Flask], host: str, port: int, workers: int, threads: int, *,
          log_requests: bool = False, on_worker_exit: Callable[[Flask], None] | None = None) -> int:
    """Serve `create_app()` on host:port until SIGTERM or Ctrl-C; in-flight requests finish first.

    `log_requests`: a JSON access-log line per request. `on_worker_exit(app)` runs in a worker as it
    stops, to close what its app opened.
    """
    logs = logging_config()
    if not log_requests:
        logs["loggers"]["gunicorn.access"]["level"] = "WARNING"  # gunicorn logs requests at INFO
    options = {"bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
               "graceful_timeout": 30, "keepalive": 30, "logconfig_dict": logs}
    if on_worker_exit is not None:
        options["worker_exit"] = lambda server, worker: on_worker_exit(worker.wsgi)
    _Application(create_app, options).run()
    return 0


@contextlib.contextmanager
def shared_metrics(service: str) -> Iterator[None]:
    """Workers are processes: they add up their Prometheus metrics through files in one directory, for
    the lifetime of the block (PROMETHEUS_MULTIPROC_DIR, unless the environment already names one).
    Create the app's metrics after entering (prometheus_client reads the variable when it creates them)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    directory, master = tempfile.mkdtemp(prefix=f"segmad-{service}-metrics-"), os.getpid()
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
