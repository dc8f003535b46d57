"""A real headless Chromium and the labelling app served on a free port, for the browser tests."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from PIL import Image

from segmad.adapters.blobstore import LocalBlobStore
from segmad.catalog.schema import metadata
from segmad.labelling import accounts, create_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@dataclass
class Site:
    """The served app, its blob store, and the steps of a user every test takes."""

    url: str
    app: Flask
    store: LocalBlobStore

    @property
    def engine(self):
        """The app's database engine."""
        return self.app.extensions["segmad.engine"]

    def put_png(self, key: str, image: np.ndarray) -> None:
        """Store an (H, W, 3) uint8 image as a PNG blob under `key`."""
        out = io.BytesIO()
        Image.fromarray(image).save(out, format="PNG")
        self.store.put(key, out.getvalue())

    def add_annotator(self, name: str, is_admin: bool = False) -> None:
        """An account `name` whose password is "password-<name>"."""
        with self.engine.begin() as conn:
            accounts.create_annotator(conn, name, "password-" + name, is_admin=is_admin)

    def sign_in(self, page, name: str) -> None:
        """Sign `name` in through the login form and wait for the home page."""
        page.goto(self.url + "/login")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", "password-" + name)
        page.click("button[type=submit]")
        page.wait_for_url(self.url + "/")

    def sign_out(self, page) -> None:
        """Sign out through the header's button and wait for the login page."""
        page.click("#logout")
        page.wait_for_url(self.url + "/login")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """The app on SQLite + local blobs with empty tables, served by a thread until the test ends."""
    from werkzeug.serving import make_server

    monkeypatch.setattr(accounts, "PASSWORD_METHOD", "pbkdf2:sha256:1000")  # fast hashes: tests sign in often
    store = LocalBlobStore(tmp_path / "blobs")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "BLOB_STORE": store,
                      "SECRET_KEY": "browser-test"})
    metadata.create_all(app.extensions["segmad.engine"])
    http = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=http.serve_forever, daemon=True)
    serving.start()
    yield Site(f"http://127.0.0.1:{http.server_port}", app, store)
    http.shutdown()
    http.server_close()  # its listening socket, which shutdown leaves open for the collector to report
    serving.join()
    app.extensions["segmad.engine"].dispose()


@pytest.fixture
def page():
    """A page of a fresh headless Chromium; `page.problems` collects console errors and page errors."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.problems = []
        page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        yield page
        browser.close()


@pytest.fixture
def artifacts() -> Path:
    """The folder for the tests' screenshots (kept after the run, for a person to look at)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
