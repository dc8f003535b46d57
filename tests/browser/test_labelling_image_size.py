"""The labelling UI shows a small image large enough to judge, in the rating, paint and review views."""

from __future__ import annotations

import numpy as np
import pytest

from segmad.labelling.campaigns import create_dense_campaign, create_weak_campaign
from segmad.labelling.palette import encode_palette_png

pytestmark = pytest.mark.slow
S = 64  # a thumbnail at its native size


@pytest.fixture
def small_image_campaigns(site):
    """Weak campaign #1 and dense campaign #2 over one 64×64 image, for ann (and bob, to review)."""
    site.put_png("images/i0.png", np.random.default_rng(0).integers(0, 255, (S, S, 3), dtype=np.uint8))
    prediction = np.zeros((S, S), np.uint8)
    prediction[10:40, 20:50] = 1
    site.store.put("pred/i0.png", encode_palette_png(prediction))
    for name in ("ann", "bob"):
        site.add_annotator(name)
    with site.engine.begin() as conn:
        create_weak_campaign(conn, site.store, 1, [{"image_id": "i0", "image_key": "images/i0.png",
                                                    "prediction_key": "pred/i0.png"}],
                             ["ann"], n4=1, test_size=1, num_classes=3, class_names=["cat", "dog", "car"])
        create_dense_campaign(conn, site.store, 1, [{"image_id": "i0", "image_key": "images/i0.png",
                                                     "prediction_keys": {"target": "pred/i0.png"}}],
                              ["ann", "bob"], num_classes=3, class_names=["cat", "dog", "car"])


def test_the_rating_view_scales_a_small_image_up_with_sharp_pixels(site, page, artifacts, small_image_campaigns):
    site.sign_in(page, "ann")
    page.goto(site.url + "/campaigns/1/rate")
    page.wait_for_selector("#image.pixelated")
    page.screenshot(path=artifacts / "small-image-rate.png")
    box = page.locator("#image").bounding_box()
    assert min(box["width"], box["height"]) > 8 * S and page.problems == []


def test_the_paint_and_review_canvases_take_the_room_there_is(site, page, artifacts, small_image_campaigns):
    site.sign_in(page, "ann")
    page.goto(site.url + "/campaigns/2/items/2/paint")
    page.wait_for_selector("#editor[data-ready='1']")
    width = page.evaluate("document.getElementById('canvas').width")
    assert width > 1000  # of the 1200 px page (it was 800), its drawing buffer as wide as its box
    assert width == page.locator("#canvas").bounding_box()["width"]
    page.click("#save")
    page.wait_for_selector("#status:has-text('waiting for review')")
    site.sign_out(page)
    site.sign_in(page, "bob")
    page.goto(site.url + "/campaigns/2/masks/1/review")
    page.wait_for_selector("#review[data-ready='1']")
    page.screenshot(path=artifacts / "small-image-review.png")
    assert page.evaluate("document.getElementById('canvas').width") > 1000 and page.problems == []
