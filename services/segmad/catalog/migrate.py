"""Bring a catalog database to the newest schema with Alembic, without an alembic.ini.

A new revision, after changing a `Table`:
    python -c "from alembic import command; from segmad.catalog.migrate import alembic_config; \
command.revision(alembic_config('sqlite:///var/rev.db'), autogenerate=True, message='what changed')"
(run it against a database migrated to the previous head, then read and fix the generated file).
"""

from __future__ import annotations

import importlib

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, text

from segmad.catalog.engine import make_engine

# Modules that put tables on the catalog's metadata; labelling's joins when it is installed.
TABLE_MODULES = ("segmad.catalog.schema", "segmad.labelling.tables")

# Any fixed number: PostgreSQL lets one migrating process at a time hold this lock.
_MIGRATION_LOCK = 0x5E6A_0001


def full_metadata() -> MetaData:
    """The catalog's metadata with every table module that exists imported onto it."""
    for name in TABLE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if not (error.name == name or name.startswith(f"{error.name}.")):
                raise  # the module exists but something it imports is missing
    from segmad.catalog.schema import metadata

    return metadata


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations (and at `url`, if given)."""
    config = Config()
    config.set_main_option("script_location", "segmad.catalog:migrations")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser escaping
    return config


def migrate(target: str | Engine) -> None:
    """Upgrade the database at a URL (or behind an engine) to the newest revision; safe to repeat."""
    engine = make_engine(target) if isinstance(target, str) else target
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Services starting together would otherwise race to create the same tables.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        if isinstance(target, str):
            engine.dispose()
