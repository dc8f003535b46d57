"""The app's SQL engine and the per-request connection on `g` (one unit of work per request)."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy import Engine, create_engine, event


def make_engine(url: str, schema: str | None = None) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout, PostgreSQL an optional schema."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL lets readers run beside the one writer of several gunicorn workers.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    if schema:
        @event.listens_for(engine, "connect")
        def _search_path(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            cursor.execute(f'SET search_path TO "{schema}"')
            cursor.close()
    return engine


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
