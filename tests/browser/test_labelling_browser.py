"""The labelling UI in a real headless Chromium: rate by keyboard, paint and save a mask, review it."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from segmad.adapters.blobstore import LocalBlobStore
from segmad.catalog.schema import metadata
from segmad.labelling import accounts, create_app
from segmad.labelling.campaigns import create_dense_campaign, create_weak_campaign
from segmad.labelling.palette import decode_label_map, encode_palette_png
from segmad.labelling.tables import dense_masks, ratings

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
H, W = 96, 128


def png(array):
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def server(tmp_path, monkeypatch):
    """The app on SQLite + local blobs, served on a free port by a thread; yields (base URL, app)."""
    from werkzeug.serving import make_server

    monkeypatch.setattr(accounts, "PASSWORD_METHOD", "pbkdf2:sha256:1000")
    store = LocalBlobStore(tmp_path / "blobs")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "BLOB_STORE": store,
                      "SECRET_KEY": "browser-test"})
    engine = app.extensions["segmad.engine"]
    metadata.create_all(engine)
    rng = np.random.default_rng(0)
    for i in range(3):
        store.put(f"images/i{i}.png", png(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)))
        prediction = np.zeros((H, W), np.uint8)
        prediction[20:70, 30:90] = 1 + i
        store.put(f"pred/i{i}.png", encode_palette_png(prediction))
    names = ["cat", "dog", "car"]
    with engine.begin() as conn:
        for name in ("ann", "bob"):
            accounts.create_annotator(conn, name, "password-" + name)
        create_weak_campaign(conn, store, 1, [{"image_id": f"i{i}", "image_key": f"images/i{i}.png",
                                               "prediction_key": f"pred/i{i}.png"} for i in range(3)],
                             ["ann"], n4=1, test_size=1, num_classes=3, class_names=names)
        create_dense_campaign(conn, store, 1, [{"image_id": "i0", "image_key": "images/i0.png",
                                                "prediction_keys": {"target": "pred/i0.png"}}],
                              ["ann", "bob"], num_classes=3, class_names=names)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}", app, store
    http.shutdown()
    engine.dispose()


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps`")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.problems = []
        page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        yield page
        browser.close()


def sign_in(page, base, name):
    page.goto(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", "password-" + name)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def sign_out(page, base):
    page.click("#logout")
    page.wait_for_url(base + "/login")


def test_rate_paint_review_and_sign_out(server, page):
    base, app, store = server
    engine = app.extensions["segmad.engine"]

    sign_in(page, base, "ann")
    page.goto(base + "/campaigns/1/rate")
    page.wait_for_selector("#progress:has-text('0 / 3 rated')")
    page.screenshot(path=ARTIFACTS / "1-rate.png")
    for key, done in (("4", 1), ("2", 2), ("0", 3)):
        page.keyboard.press(key)
        page.wait_for_selector(f"#progress:has-text('{done} / 3 rated')")
    page.wait_for_selector("#done:visible")
    with engine.connect() as conn:
        votes = conn.execute(select(ratings.c.item_id, ratings.c.score, ratings.c.out_of_domain)
                             .order_by(ratings.c.item_id)).all()
    assert [tuple(v) for v in votes] == [(1, 4, False), (2, 2, False), (3, None, True)]

    page.goto(base + "/campaigns/2/items/4/paint")
    page.wait_for_selector("#editor[data-ready='1']")
    page.select_option("#model", "target")
    page.keyboard.press("2")
    box = page.locator("#canvas").bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 400, box["y"] + 40, steps=12)
    page.mouse.up()
    page.click("#save")
    page.wait_for_selector("#status:has-text('saved')")
    page.screenshot(path=ARTIFACTS / "2-paint.png")
    with engine.connect() as conn:
        mask = conn.execute(select(dense_masks)).one()
    painted = decode_label_map(store.get(mask.mask_key))
    assert mask.started_from == "target" and (painted == 1).any() and (painted == 2).any()
    sign_out(page, base)

    sign_in(page, base, "bob")
    page.goto(base + "/campaigns/2/dense")
    page.click("#reviews a")
    page.wait_for_selector("#review[data-ready='1']")
    page.screenshot(path=ARTIFACTS / "3-review.png")
    page.click("#accept")
    page.wait_for_url(base + "/campaigns/2/dense")
    with engine.connect() as conn:
        assert conn.execute(select(dense_masks.c.status)).scalar() == "accepted"
    sign_out(page, base)
    page.screenshot(path=ARTIFACTS / "4-signed-out.png")
    assert page.problems == []
