"""Shared fixtures of the labelling tests: an app on SQLite + local blobs with a few tiny images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from segmad.adapters.blobstore import LocalBlobStore
from segmad.catalog.schema import metadata
from segmad.labelling import create_app
from segmad.labelling.accounts import create_annotator, issue_token
from segmad.labelling.campaigns import create_dense_campaign, create_weak_campaign
from segmad.labelling.palette import encode_palette_png

H, W, C = 6, 8, 3
PASSWORD = "correct horse"


def png(array: np.ndarray) -> bytes:
    """PNG bytes of an array (RGB image or label map)."""
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def label_map(k: int) -> np.ndarray:
    """A map whose left half is class k."""
    m = np.zeros((H, W), np.uint8)
    m[:, : W // 2] = k
    return m


@pytest.fixture
def store(tmp_path):
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def app(tmp_path, store, monkeypatch):
    # Cheap hashing keeps the suite fast; test_passwords_are_stored_hashed still sees a hash.
    monkeypatch.setattr("segmad.labelling.accounts.PASSWORD_METHOD", "pbkdf2:sha256:1000")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "BLOB_STORE": store,
                      "SECRET_KEY": "test", "TESTING": True})
    metadata.create_all(app.extensions["segmad.engine"])
    return stock(app, store)


def stock(app, store):
    """Put the four tiny images with their maps in `store`, and the accounts admin, ann, bob, eve."""
    rng = np.random.default_rng(0)
    for i in range(4):
        store.put(f"images/i{i}.png", png(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)))
        store.put(f"pred/target/i{i}.png", encode_palette_png(label_map(1 + i % C)))
        store.put(f"pred/other/i{i}.png", encode_palette_png(label_map(2)))
    with app.extensions["segmad.engine"].begin() as conn:
        for name, admin in (("admin", True), ("ann", False), ("bob", False), ("eve", False)):
            create_annotator(conn, name, PASSWORD, is_admin=admin)
    return app


def weak_items(n=4):
    return [{"image_id": f"i{i}", "image_key": f"images/i{i}.png", "prediction_key": f"pred/target/i{i}.png"}
            for i in range(n)]


def dense_items(n=2):
    return [{"image_id": f"i{i}", "image_key": f"images/i{i}.png",
             "prediction_keys": {"target": f"pred/target/i{i}.png", "other": f"pred/other/i{i}.png"}}
            for i in range(n)]


@pytest.fixture
def weak(app, store):
    """A weak campaign over 4 images for ann and bob."""
    with app.extensions["segmad.engine"].begin() as conn:
        return create_weak_campaign(conn, store, 1, weak_items(), ["ann", "bob"], n4=1, test_size=2,
                                    num_classes=C, class_names=["cat", "dog", "car"], seed=0)


@pytest.fixture
def dense(app, store):
    """A dense campaign over 2 images: i0 painted by ann, i1 by bob."""
    with app.extensions["segmad.engine"].begin() as conn:
        return create_dense_campaign(conn, store, 1, dense_items(), ["ann", "bob"], num_classes=C,
                                     class_names=["cat", "dog", "car"])


def token_for(app, name: str) -> dict:
    """Authorization header with a fresh API token of that annotator."""
    from segmad.labelling.accounts import find_annotator
    with app.extensions["segmad.engine"].begin() as conn:
        return {"Authorization": "Bearer " + issue_token(conn, find_annotator(conn, name).id)}


def login(client, name: str, password: str = PASSWORD):
    """Sign in through the form (fetching its CSRF token first); the response."""
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    return client.post("/login", data={"name": name, "password": password, "csrf_token": csrf})


def csrf_of(client) -> dict:
    """The X-CSRF-Token header of the client's session."""
    client.get("/login")  # a page renders the token if the session has none yet
    with client.session_transaction() as session:
        return {"X-CSRF-Token": session["csrf"]}


@pytest.fixture
def client(app):
    return app.test_client()
