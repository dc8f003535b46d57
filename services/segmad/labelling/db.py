"""The per-request catalog connection on `g` (one unit of work per request)."""

from __future__ import annotations

from flask import current_app, g


def get_db():
    """This request's connection, opened on first use."""
    if "db" not in g:
        g.db = current_app.extensions["segmad.engine"].connect()
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
    if conn is not None:
        conn.close()
