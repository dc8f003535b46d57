"""The labelling service's workflow on the real adapters: PostgreSQL (a private schema) and S3 (SeaweedFS).

The same test functions as on SQLite + local blobs (tests/unit/test_labelling_workflow.py and a few
of test_labelling_security.py) run here against this module's `app` and `store` fixtures.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))  # the shared labelling fixtures

from labelling_fixtures import client, dense, stock, weak  # noqa: E402,F401  (fixtures)
from segmad.adapters.s3 import S3BlobStore, client_for, split_blob_url  # noqa: E402
from segmad.catalog import make_engine, migrate  # noqa: E402
from segmad.catalog.migrate import full_metadata  # noqa: E402
from segmad.labelling import create_app  # noqa: E402
from test_labelling_security import (  # noqa: E402,F401
    test_a_mask_of_the_wrong_size_is_refused_with_the_sizes,
    test_a_mask_with_unknown_class_ids_is_refused,
    test_annotators_cannot_save_a_mask_on_an_item_of_another,
    test_annotators_outside_a_campaign_cannot_see_it,
)
from test_labelling_workflow import (  # noqa: E402,F401
    test_a_rating_can_be_changed_while_open_and_counts_once,
    test_a_returned_mask_goes_back_to_its_painter_with_the_comment,
    test_admin_opens_a_weak_campaign_through_the_api,
    test_closing_computes_mos_with_veto_and_selects_s_and_t,
    test_coco_export_has_an_rle_annotation_per_class_present,
    test_imported_voc_masks_are_checked_and_wait_for_review,
    test_mask_seconds_add_up_over_resaves,
    test_next_gives_the_first_unrated_item_and_one_to_preload,
    test_painters_cannot_review_their_own_mask,
    test_prefill_labels_come_from_the_chosen_model,
    test_stats_give_counts_median_seconds_and_alpha,
    test_voc_export_holds_palette_pngs_and_the_class_list,
)

SERVER = os.environ.get("SEGMAD_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_schema():
    """A private schema for this test session (parallel runs never meet), migrated; dropped afterwards."""
    admin = create_engine(SERVER, connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            pass
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL does not answer at {SERVER}: {error.orig}")
    schema = f"segmad_labelling_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        engine = make_engine(SERVER, schema)
        migrate(engine)  # the Alembic revisions, not create_all: they are what a deployment runs
        engine.dispose()
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(postgres_schema, local_stack):
    """An empty S3 store: a fresh prefix in the stack's bucket (PostgreSQL is checked first, to skip early)."""
    bucket, _ = split_blob_url(local_stack["SEGMAD_BLOB_URL"])
    client = client_for(local_stack["SEGMAD_S3_ENDPOINT"], local_stack["SEGMAD_S3_ACCESS_KEY"],
                        local_stack["SEGMAD_S3_SECRET_KEY"])
    return S3BlobStore(client, bucket, f"test-labelling-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def app(postgres_schema, store, monkeypatch):
    """The app on the private schema, emptied (ids restart at 1, as the tests expect) and stocked."""
    monkeypatch.setattr("segmad.labelling.accounts.PASSWORD_METHOD", "pbkdf2:sha256:1000")
    app = create_app({"DATABASE_URL": SERVER, "DATABASE_SCHEMA": postgres_schema, "BLOB_STORE": store,
                      "SECRET_KEY": "test", "TESTING": True})
    engine = app.extensions["segmad.engine"]
    tables = ", ".join(f'"{t.name}"' for t in full_metadata().sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield stock(app, store)
    engine.dispose()


def test_the_app_runs_on_postgresql_and_s3(app, store):
    engine = app.extensions["segmad.engine"]
    assert engine.dialect.name == "postgresql" and isinstance(store, S3BlobStore)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_schema()")).scalar().startswith("segmad_labelling_")
