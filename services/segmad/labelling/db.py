"""The per-request catalog connection on `g` (one unit of work per request)."""

from __future__ import annotations

import threading

from flask import current_app, g, request

READ_ONLY = {"GET", "HEAD", "OPTIONS"}
# SQLite lets one connection write at a time and makes the others poll with growing sleeps
# (1, 2, 5, 10 … 100 ms); queueing this process's writers on a lock instead keeps the tail short.
_SQLITE_WRITERS = threading.Lock()


def get_db():
    """This request's connection, opened on first use.

    Reads run in autocommit (no BEGIN/COMMIT round trips); a write request is one transaction.
    """
    if "db" not in g:
        engine = current_app.extensions["segmad.engine"]
        if request.method in READ_ONLY:
            g.db = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        else:
            if engine.dialect.name == "sqlite":
                _SQLITE_WRITERS.acquire()
                g.sqlite_writer = True
            g.db = engine.connect()
    return g.db


def commit_db(response):
    """Commit the request's work when it succeeded (status < 400); otherwise leave it to roll back."""
    conn = g.get("db")
    if conn is not None and response.status_code < 400 and conn.in_transaction():
        conn.commit()
    return response


def close_db(error: BaseException | None = None) -> None:
    """Close the request's connection; anything uncommitted is rolled back."""
    conn = g.pop("db", None)
    try:
        if conn is not None:
            conn.close()
    finally:
        if g.pop("sqlite_writer", False):
            _SQLITE_WRITERS.release()
