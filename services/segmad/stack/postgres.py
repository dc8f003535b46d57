"""The stack's PostgreSQL: an existing server (DATABASE_URL, else 127.0.0.1:5432) with its own database."""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

DEFAULT_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
STACK_DATABASE = "segmad"


def _answers(url: str) -> bool:
    """Whether a connection to `url` opens within a few seconds."""
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def database_url() -> tuple[str | None, str]:
    """(catalog URL or None, a line saying where it comes from or why there is none)."""
    given = os.environ.get("SEGMAD_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if given:
        if given.startswith("postgresql://"):
            given = "postgresql+psycopg2://" + given[len("postgresql://"):]
        shown = make_url(given).render_as_string(hide_password=True)
        return (given, f"from the environment: {shown}") if _answers(given) else (None, f"{shown} does not answer")
    if not _answers(DEFAULT_SERVER):
        return None, "no PostgreSQL answers at 127.0.0.1:5432 and DATABASE_URL is not set"
    # The stack's catalog gets a database of its own on the shared server.
    engine = create_engine(DEFAULT_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": STACK_DATABASE}).first():
                conn.execute(text(f'CREATE DATABASE "{STACK_DATABASE}"'))
    finally:
        engine.dispose()
    url = make_url(DEFAULT_SERVER).set(database=STACK_DATABASE).render_as_string(hide_password=False)
    return url, f"database {STACK_DATABASE!r} on the server at 127.0.0.1:5432"


def status_row(url: str | None) -> dict:
    """The stack's status line for PostgreSQL (not a process of the stack: pid is None)."""
    if not url:
        return {"name": "postgres", "state": "unavailable", "pid": None, "address": "-"}
    shown = make_url(url).render_as_string(hide_password=True)
    return {"name": "postgres", "state": "running" if _answers(url) else "not answering", "pid": None,
            "address": shown}
