"""The catalog on SQLite (the embedded database): the shared contract, and what migrating gives."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import inspect

from segmad.catalog import Catalog, make_engine, migrate
from segmad.catalog.migrate import full_metadata
from tests.unit.test_catalog_contract import CatalogContract, schema_snapshot


@pytest.fixture(scope="module")
def migrated_file(tmp_path_factory):
    """One migrated database file, copied for each test (migrating once per test would be slow)."""
    path = tmp_path_factory.mktemp("catalog") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection to close folds the WAL back into the file
    return path


class TestSqliteCatalog(CatalogContract):
    @pytest.fixture
    def catalog(self, migrated_file, tmp_path):
        shutil.copy(migrated_file, tmp_path / "catalog.db")
        engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
        yield Catalog(engine)
        engine.dispose()


def test_migrating_an_empty_database_gives_exactly_the_tables_of_the_metadata(tmp_path):
    migrated, created = make_engine(f"sqlite:///{tmp_path / 'm.db'}"), make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(migrated)
    full_metadata().create_all(created)
    assert schema_snapshot(migrated) == schema_snapshot(created)


def test_migrating_twice_changes_nothing(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    before = schema_snapshot(engine)
    migrate(engine)
    assert schema_snapshot(engine) == before


def test_migrate_takes_a_url_and_creates_the_folder_of_the_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'catalog.db'}"
    migrate(url)
    assert "images" in inspect(make_engine(url)).get_table_names()


def test_sqlite_connections_enforce_foreign_keys(tmp_path):
    with make_engine(f"sqlite:///{tmp_path / 'x.db'}").connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_database_other_than_sqlite_or_postgresql_is_refused():
    with pytest.raises(ValueError, match="mysql"):
        make_engine("mysql://localhost/segmad")
