"""Admins' HTML forms: a weak campaign from a round's M, a dense one over S ∪ T, closing, importing a mask."""

import io
import json

import numpy as np
import pytest
from sqlalchemy import select

from labelling_fixtures import (  # noqa: F401  (fixtures)
    app, client, csrf_of, dense, label_map, login, png, store, weak,
)
from segmad.catalog import Catalog
from segmad.catalog.records import Image, ModelVersion, Prediction, RoundSettings
from segmad.labelling.errors import Invalid
from segmad.labelling.rounds_bridge import dense_items_for, weak_items_for_round
from segmad.labelling.tables import campaign_items, campaigns, dense_masks


@pytest.fixture
def catalog(app):
    """Round 1 of target deeplab@1 against competitor other@1, M = i0..i2 (i3 was not mined)."""
    catalog = Catalog(app.extensions["segmad.engine"])
    catalog.add_model_version(ModelVersion("deeplab", "1", "unet", "target", "models/deeplab/1.pt"))
    catalog.add_model_version(ModelVersion("other", "1", "unet", "competitor", "models/other/1.pt"))
    for i in range(4):
        catalog.add_image(Image(f"i{i}", f"{i:064x}", 8, 6, "test", f"images/i{i}.png"))
        catalog.add_prediction(Prediction(f"i{i}", "deeplab", "1", f"pred/target/i{i}.png", [0.5, 0.5, 0, 0]))
        catalog.add_prediction(Prediction(f"i{i}", "other", "1", f"pred/other/i{i}.png", [0.5, 0, 0.5, 0]))
    catalog.start_round(1, "deeplab", "1", n3=2, n4=1,
                        settings=RoundSettings(num_classes=3, competitors=(("other", "1"),)))
    catalog.set_round_images(1, "candidates", ["i0", "i1", "i2"])
    return catalog


def post_form(client, url, data, **kwargs):
    """POST a form the way the page does: with the session's CSRF token as a field."""
    token = csrf_of(client)["X-CSRF-Token"]
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def rows(app, table):
    with app.extensions["segmad.engine"].connect() as conn:
        return conn.execute(select(table)).all()


def test_weak_items_are_m_with_the_targets_maps(catalog):
    items = weak_items_for_round(catalog, 1)
    assert items[0] == {"image_id": "i0", "image_key": "images/i0.png", "prediction_key": "pred/target/i0.png"}
    assert [i["image_id"] for i in items] == ["i0", "i1", "i2"]


def test_dense_items_offer_the_target_and_every_competitor(catalog):
    (item,) = dense_items_for(catalog, 1, ["i3"])
    assert item["prediction_keys"] == {"target": "pred/target/i3.png", "other": "pred/other/i3.png"}


def test_a_round_without_candidates_gives_no_weak_items(catalog):
    catalog.set_round_images(1, "candidates", [])
    with pytest.raises(Invalid, match="no candidates"):
        weak_items_for_round(catalog, 1)


def test_admin_opens_a_weak_campaign_over_m_from_the_form(app, client, catalog):
    login(client, "admin")
    response = post_form(client, "/admin/campaigns/weak", {"round": "1", "annotators": ["ann", "bob"], "n4": "",
                                                          "test_size": "1", "class_names": ""},
                         follow_redirects=True)
    assert b"opened weak campaign #1 over 3 images of round 1" in response.data
    (campaign,) = rows(app, campaigns)
    # the round records no names: the defaults every round, export and release uses
    assert campaign.n4 == 1 and json.loads(campaign.class_names) == ["class-1", "class-2", "class-3"]
    assert [i.prediction_key for i in rows(app, campaign_items)][0] == "pred/target/i0.png"


def test_a_campaign_left_unnamed_takes_the_rounds_class_names(app, client, catalog):
    catalog.start_round(2, "deeplab", "1", n3=2, n4=1, settings=RoundSettings(
        num_classes=3, class_names=("cat", "dog", "cow"), competitors=(("other", "1"),)))
    catalog.set_round_images(2, "candidates", ["i0", "i1"])
    login(client, "admin")
    post_form(client, "/admin/campaigns/weak", {"round": "2", "annotators": ["ann"], "n4": "", "test_size": "1",
                                               "class_names": ""}, follow_redirects=True)
    (campaign,) = rows(app, campaigns)
    assert json.loads(campaign.class_names) == ["cat", "dog", "cow"]


def test_a_refused_form_shows_why_and_opens_nothing(app, client, catalog):
    login(client, "admin")
    response = post_form(client, "/admin/campaigns/weak", {"round": "1", "class_names": "cat, dog"},
                         follow_redirects=True)
    assert b"round 1 has 3 classes, 2 names were given" in response.data
    assert rows(app, campaigns) == []


def test_the_forms_need_the_csrf_token(client, catalog):
    login(client, "admin")
    response = client.post("/admin/campaigns/weak", data={"round": "1", "annotators": ["ann"]})
    assert response.status_code == 400 and b"CSRF" in response.data


def test_annotators_cannot_use_the_admin_forms(client, catalog):
    login(client, "ann")
    assert client.get("/admin/campaigns/new").status_code == 403
    assert post_form(client, "/admin/campaigns/weak", {"round": "1", "annotators": ["ann"]}).status_code == 403


def test_closing_from_the_page_selects_s_and_t_and_s_union_t_opens_densely(app, client, catalog):
    login(client, "admin")
    post_form(client, "/admin/campaigns/weak", {"round": "1", "annotators": ["admin"], "test_size": "1"})
    for item, vote in ((1, 1), (2, 5), (3, 4)):
        client.put(f"/api/campaigns/1/items/{item}/rating", json={"rating": vote, "seconds": 1},
                   headers=csrf_of(client))
    closed = post_form(client, "/admin/campaigns/1/close", {}, follow_redirects=True)
    assert b"S has 1 images, T has 1, 0 out of domain" in closed.data
    opened = post_form(client, "/admin/campaigns/dense", {"weak_campaign": "1", "annotators": ["ann", "bob"]},
                       follow_redirects=True)
    assert b"opened dense campaign #2 over 2 images" in opened.data
    dense_rows = [r for r in rows(app, campaign_items) if r.campaign_id == 2]
    assert sorted(json.loads(dense_rows[0].prediction_keys)) == ["other", "target"]


def test_the_new_campaign_page_lists_rounds_and_annotators_without_inline_script(client, catalog):
    login(client, "admin")
    page = client.get("/admin/campaigns/new").data.decode()
    assert "round 1 · deeplab@1 · 3 candidates" in page and 'value="bob"' in page
    assert "<script>" not in page and " on" + "click=" not in page


def test_import_form_takes_a_voc_png_and_refuses_a_wrong_size(app, client, dense):
    login(client, "admin")
    ok = post_form(client, f"/admin/campaigns/{dense}/import",
                   {"item_id": "2", "mask": (io.BytesIO(png(label_map(2))), "i1.png")},
                   content_type="multipart/form-data", follow_redirects=True)
    assert b"imported the mask of item 2" in ok.data
    bad = post_form(client, f"/admin/campaigns/{dense}/import",
                    {"item_id": "1", "mask": (io.BytesIO(png(np.zeros((3, 3), np.uint8))), "x.png")},
                    content_type="multipart/form-data", follow_redirects=True)
    assert b"the mask is 3x3 pixels, the image is 8x6" in bad.data
    assert [(m.item_id, m.started_from, m.status) for m in rows(app, dense_masks)] == [(2, "import", "submitted")]


def test_the_dashboard_and_home_page_show_how_many_images_a_campaign_has(client, weak):
    login(client, "admin")
    assert "0 / 8 done · 4 images" in client.get("/admin").data.decode()
    login(client, "ann")
    assert "open · 4 images" in client.get("/").data.decode()
