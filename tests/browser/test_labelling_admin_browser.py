"""The admin's forms in a real headless Chromium: open a weak campaign from a round, close it, open the
dense campaign over S ∪ T, import a VOC mask."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from segmad.catalog import Catalog
from segmad.catalog.records import Image, ModelVersion, Prediction, RoundSettings
from segmad.labelling import accounts
from segmad.labelling.campaigns import get_campaign
from segmad.labelling.palette import encode_palette_png
from segmad.labelling.rating import submit_rating
from segmad.labelling.tables import campaigns, dense_masks

pytestmark = pytest.mark.slow
H, W = 48, 64


def start_round_1(site) -> None:
    """Round 1 catalogued: M = i0..i3, target deeplab@1, competitor other@1; accounts admin, ann, bob."""
    catalog, rng = Catalog(site.engine), np.random.default_rng(0)
    for name, role in (("deeplab", "target"), ("other", "competitor")):
        catalog.add_model_version(ModelVersion(name, "1", "unet", role, f"models/{name}.pt"))
    for i in range(4):
        site.put_png(f"images/i{i}.png", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
        catalog.add_image(Image(f"i{i}", f"{i:064x}", W, H, "test", f"images/i{i}.png"))
        for name in ("deeplab", "other"):
            site.store.put(f"pred/{name}/i{i}.png", encode_palette_png(np.full((H, W), 1 + i % 3, np.uint8)))
            catalog.add_prediction(Prediction(f"i{i}", name, "1", f"pred/{name}/i{i}.png", [0, 1, 0, 0]))
    catalog.start_round(1, "deeplab", "1", n3=2, n4=1,
                        settings=RoundSettings(num_classes=3, competitors=(("other", "1"),)))
    catalog.set_round_images(1, "candidates", [f"i{i}" for i in range(4)])
    for name in ("admin", "ann", "bob"):
        site.add_annotator(name, is_admin=name == "admin")


def rate_all(engine, campaign_id, name, votes):
    with engine.begin() as conn:
        user = accounts.find_annotator(conn, name)
        for item_id, vote in votes.items():
            submit_rating(conn, get_campaign(conn, campaign_id), item_id, user.id, vote, 5.0)


def test_admin_opens_closes_and_imports_through_the_forms(site, page, artifacts, tmp_path):
    start_round_1(site)
    engine = site.engine
    site.sign_in(page, "admin")
    page.click("header >> text=admin")
    page.click("#new-campaign")
    page.select_option("#open-weak select[name=round]", "1")
    page.check("#open-weak input[value=ann]")
    page.fill("#open-weak input[name=test_size]", "2")
    page.fill("#open-weak input[name=class_names]", "cat, dog, car")
    page.screenshot(path=artifacts / "admin-1-new-weak.png")
    page.click("#open-weak button[type=submit]")
    page.wait_for_selector(".flash:has-text('opened weak campaign #1 over 4 images of round 1')")

    rate_all(engine, 1, "ann", {1: 1, 2: 5, 3: 4, 4: 3})
    page.reload()
    page.wait_for_selector("#campaign-1:has-text('4 / 4 done · 4 images')")
    page.click("#campaign-1 form.close button")
    page.wait_for_selector(".flash:has-text('S has 1 images, T has 2')")
    page.screenshot(path=artifacts / "admin-2-closed.png")

    page.click("#new-campaign")
    page.select_option("#open-dense select[name=weak_campaign]", "1")
    page.check("#open-dense input[value=ann]")
    page.check("#open-dense input[value=bob]")
    page.click("#open-dense button[type=submit]")
    page.wait_for_selector(".flash:has-text('opened dense campaign #2 over 3 images')")

    mask = tmp_path / "i0.png"
    PILImage.fromarray(np.full((H, W), 2, np.uint8)).save(mask)
    page.select_option("#campaign-2 select[name=item_id]", label="i0")
    page.set_input_files("#campaign-2 input[name=mask]", str(mask))
    page.click("#campaign-2 form.import button")
    page.wait_for_selector(".flash:has-text('it waits for review')")
    page.screenshot(path=artifacts / "admin-3-imported.png")
    with engine.connect() as conn:
        assert [c.kind for c in conn.execute(select(campaigns.c.kind).order_by(campaigns.c.id))] == ["weak", "dense"]
        assert conn.execute(select(dense_masks.c.started_from, dense_masks.c.status)).one() == ("import", "submitted")
    site.sign_out(page)
    assert page.problems == []
