"""Serving the labelling app: gunicorn (threaded workers) in production."""

from __future__ import annotations

from segmad.runtime import gunicorn


def serve(host: str, port: int, workers: int = 2, threads: int = 8) -> int:
    """Run the app under gunicorn until SIGTERM or Ctrl-C; in-flight requests finish first."""
    from segmad.catalog import migrate
    from segmad.labelling import create_app

    # Once here, not in each worker at once: the catalog's and the labelling tables (indexes included)
    # and the secret key file that every worker then reads.
    engine = create_app().extensions["segmad.engine"]
    migrate(engine)
    engine.dispose()
    with gunicorn.shared_metrics("labelling"):  # /metrics adds up every worker's counts
        return gunicorn.serve(create_app, host, port, workers, threads)
