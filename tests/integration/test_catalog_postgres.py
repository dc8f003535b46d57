"""The catalog on PostgreSQL: the shared contract, and what migrating gives, in throwaway schemas."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from segmad.catalog import Catalog, make_engine, migrate
from segmad.catalog.migrate import full_metadata
from segmad.catalog.records import ModelVersion
from tests.unit.test_catalog_contract import CatalogContract, schema_snapshot

SERVER = os.environ.get("SEGMAD_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_schema():
    """The URL of a new, empty schema (first on the search path), dropped afterwards."""
    admin = create_engine(SERVER, connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            pass
    except OperationalError as error:
        pytest.skip(f"PostgreSQL does not answer at {SERVER}: {error.orig}")
    schema = f"segmad_test_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def migrated_engine():
    with fresh_schema() as url:
        engine = make_engine(url)
        migrate(engine)
        yield engine
        engine.dispose()


class TestPostgresCatalog(CatalogContract):
    @pytest.fixture
    def catalog(self, migrated_engine):
        # DELETE, children first: on a few rows it is much quicker than TRUNCATE.
        with migrated_engine.begin() as conn:
            for table in reversed(full_metadata().sorted_tables):
                conn.execute(table.delete())
        return Catalog(migrated_engine)


def test_migrating_an_empty_schema_gives_exactly_the_tables_of_the_metadata():
    with fresh_schema() as migrated_url, fresh_schema() as created_url:
        migrated, created = make_engine(migrated_url), make_engine(created_url)
        migrate(migrated)
        full_metadata().create_all(created)
        try:
            assert schema_snapshot(migrated) == schema_snapshot(created)
        finally:
            migrated.dispose(), created.dispose()


def test_migrating_twice_changes_nothing():
    with fresh_schema() as url:
        migrate(url)
        engine = make_engine(url)
        before = schema_snapshot(engine)
        migrate(url)
        try:
            assert schema_snapshot(engine) == before
        finally:
            engine.dispose()


def test_a_catalog_in_a_named_schema_creates_it_and_stays_inside(monkeypatch):
    from segmad import bootstrap

    with fresh_schema():  # only for the skip when PostgreSQL is down
        pass
    schema = f"segmad_named_{uuid.uuid4().hex[:10]}"
    admin = create_engine(SERVER)
    try:
        catalog = bootstrap.catalog(SERVER, schema)
        catalog.add_model_version(ModelVersion("target", "v0", "unet", "target", "models/target/v0.pt"))
        catalog.start_round(1, "target", "v0", 2, 4)
        # A rolled-back transaction must not take the search path with it.
        with catalog.engine.connect() as conn:
            conn.rollback()
        assert catalog.round(1).state == "mining"
        catalog.engine.dispose()
        with admin.connect() as conn:
            tables = set(conn.execute(text("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = :s"), {"s": schema}).scalars())
        assert {"rounds", "images", "alembic_version"} <= tables
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
