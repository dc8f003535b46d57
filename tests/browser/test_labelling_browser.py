"""The labelling UI in a real headless Chromium: rate by keyboard, paint and save a mask, review it."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from segmad.labelling.campaigns import create_dense_campaign, create_weak_campaign
from segmad.labelling.palette import decode_label_map, encode_palette_png
from segmad.labelling.tables import dense_masks, ratings

pytestmark = pytest.mark.slow
H, W = 96, 128


def open_campaigns(site) -> None:
    """Weak campaign #1 over i0..i2 for ann; dense campaign #2 over i0 for ann and bob."""
    rng = np.random.default_rng(0)
    for i in range(3):
        site.put_png(f"images/i{i}.png", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
        prediction = np.zeros((H, W), np.uint8)
        prediction[20:70, 30:90] = 1 + i
        site.store.put(f"pred/i{i}.png", encode_palette_png(prediction))
    for name in ("ann", "bob"):
        site.add_annotator(name)
    names = ["cat", "dog", "car"]
    with site.engine.begin() as conn:
        create_weak_campaign(conn, site.store, 1, [{"image_id": f"i{i}", "image_key": f"images/i{i}.png",
                                                    "prediction_key": f"pred/i{i}.png"} for i in range(3)],
                             ["ann"], n4=1, test_size=1, num_classes=3, class_names=names)
        create_dense_campaign(conn, site.store, 1, [{"image_id": "i0", "image_key": "images/i0.png",
                                                     "prediction_keys": {"target": "pred/i0.png"}}],
                              ["ann", "bob"], num_classes=3, class_names=names)


def test_rate_paint_review_and_sign_out(site, page, artifacts):
    open_campaigns(site)
    base, engine = site.url, site.engine

    site.sign_in(page, "ann")
    page.goto(base + "/campaigns/1/rate")
    page.wait_for_selector("#progress:has-text('0 / 3 rated')")
    page.screenshot(path=artifacts / "1-rate.png")
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
    page.screenshot(path=artifacts / "2-paint.png")
    with engine.connect() as conn:
        mask = conn.execute(select(dense_masks)).one()
    painted = decode_label_map(site.store.get(mask.mask_key))
    assert mask.started_from == "target" and (painted == 1).any() and (painted == 2).any()
    site.sign_out(page)

    site.sign_in(page, "bob")
    page.goto(base + "/campaigns/2/dense")
    page.click("#reviews a")
    page.wait_for_selector("#review[data-ready='1']")
    page.screenshot(path=artifacts / "3-review.png")
    page.click("#accept")
    page.wait_for_url(base + "/campaigns/2/dense")
    with engine.connect() as conn:
        assert conn.execute(select(dense_masks.c.status)).scalar() == "accepted"
    site.sign_out(page)
    page.screenshot(path=artifacts / "4-signed-out.png")
    assert page.problems == []
