"""Serving the labelling app: gunicorn (threaded workers) in production."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app, options: dict):
        self.application, self.options = app, options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def serve(host: str, port: int, workers: int = 2, threads: int = 8) -> int:
    """Run the app under gunicorn until interrupted."""
    from segmad.catalog import migrate
    from segmad.labelling import create_app

    app = create_app()
    migrate(app.extensions["segmad.engine"])  # the catalog's and the labelling tables, indexes included
    app.extensions["segmad.engine"].dispose()  # each forked worker opens its own connections
    _Gunicorn(app, {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
                    "worker_class": "gthread", "accesslog": None, "keepalive": 30, "loglevel": "warning"}).run()
    return 0
