"""SQLAlchemy engines for the catalog: SQLite embedded, PostgreSQL (psycopg2) on the stack."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

DIALECTS = ("sqlite", "postgresql")
_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def make_engine(url: str, schema: str | None = None) -> Engine:
    """An engine for a sqlite:/// or postgresql:// URL; SQLite gets foreign keys, WAL and a busy timeout.

    `schema` puts PostgreSQL connections on that schema's search path (isolated deployments, tests).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() not in DIALECTS:
        raise ValueError(f"unsupported catalog database {parsed.get_backend_name()!r}; use sqlite or postgresql")
    if schema and not _SCHEMA.match(schema):
        raise ValueError(f"invalid database schema name {schema!r} (letters, digits and _, at most 63)")
    if parsed.get_backend_name() == "postgresql":
        # Threaded gunicorn workers (labelling) need more than the default five connections.
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
        if schema:
            event.listen(engine, "connect", lambda conn, _record: _search_path(conn, schema))
        return engine
    if parsed.database in (None, "", ":memory:"):
        # One shared connection, or every new connection would see its own empty in-memory database.
        engine = create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite; PostgreSQL always checks
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the one writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps it consistent
    cursor.close()


def _search_path(dbapi_connection, schema: str) -> None:
    # Outside a transaction, so a later rollback cannot undo the setting (SET is transactional).
    was = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    cursor.execute(f'SET SESSION search_path TO "{schema}"')
    cursor.close()
    dbapi_connection.autocommit = was
