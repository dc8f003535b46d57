"""Maps sent to the rating page and the editor are at the item's image size, whatever size they were stored at."""

import io

import numpy as np
import pytest
from PIL import Image

from labelling_fixtures import app, client, png, store, token_for  # noqa: F401  (fixtures)
from segmad.labelling.campaigns import create_dense_campaign, create_weak_campaign
from segmad.labelling.palette import PALETTE, encode_palette_png

HEIGHT, WIDTH = 48, 96  # the image: 96 columns, 48 rows
STORED = np.random.default_rng(1).integers(0, 4, (64, 64)).astype(np.uint8)  # a map at a model's input size


def nearest(label_map, height, width):
    """Pixel-centre nearest neighbour, written out: output (i, j) takes input (floor((i+.5)h/H), floor((j+.5)w/W))."""
    h, w = label_map.shape
    return np.array([[label_map[int((i + 0.5) * h / height), int((j + 0.5) * w / width)]
                      for j in range(width)] for i in range(height)], np.uint8)


@pytest.fixture
def wide(store):
    store.put("images/wide.png", png(np.full((HEIGHT, WIDTH, 3), 90, np.uint8)))
    store.put("pred/target/wide.png", encode_palette_png(STORED))
    store.put("pred/other/wide.png", encode_palette_png(np.full((HEIGHT, WIDTH), 2, np.uint8)))
    return {"image_id": "wide", "image_key": "images/wide.png"}


def weak_campaign(app, store, item):
    with app.extensions["segmad.engine"].begin() as conn:
        return create_weak_campaign(conn, store, 1, [item | {"prediction_key": "pred/target/wide.png"}], ["ann"],
                                    n4=0, test_size=0, num_classes=3, class_names=["cat", "dog", "car"])


def dense_campaign(app, store, item):
    keys = {"target": "pred/target/wide.png", "other": "pred/other/wide.png"}
    with app.extensions["segmad.engine"].begin() as conn:
        return create_dense_campaign(conn, store, 1, [item | {"prediction_keys": keys}], ["ann"],
                                     num_classes=3, class_names=["cat", "dog", "car"])


def test_the_editor_prefills_from_a_map_resized_to_the_image(app, client, store, wide):
    campaign = dense_campaign(app, store, wide)
    response = client.get(f"/api/campaigns/{campaign}/items/1/labels?model=target", headers=token_for(app, "ann"))
    assert response.status_code == 200 and len(response.data) == 96 * 48
    assert (response.headers["X-Height"], response.headers["X-Width"]) == ("48", "96")
    assert np.array_equal(np.frombuffer(response.data, np.uint8).reshape(48, 96), nearest(STORED, 48, 96))


def test_a_map_already_at_the_image_size_is_sent_as_stored(app, client, store, wide):
    campaign = dense_campaign(app, store, wide)
    response = client.get(f"/api/campaigns/{campaign}/items/1/labels?model=other", headers=token_for(app, "ann"))
    assert np.array_equal(np.frombuffer(response.data, np.uint8), np.full(48 * 96, 2, np.uint8))


def test_the_rating_overlay_is_at_the_image_size(app, client, store, wide):
    campaign = weak_campaign(app, store, wide)
    response = client.get(f"/api/campaigns/{campaign}/items/1/overlay", headers=token_for(app, "ann"))
    overlay = np.asarray(Image.open(io.BytesIO(response.data)))
    assert overlay.shape == (48, 96, 4)
    expected = nearest(STORED, 48, 96)
    assert np.array_equal(overlay[..., :3], PALETTE[expected])
    assert np.array_equal(overlay[..., 3] == 255, expected != 0)


def test_a_weak_campaigns_raw_target_map_is_at_the_image_size(app, client, store, wide):
    campaign = weak_campaign(app, store, wide)
    response = client.get(f"/api/campaigns/{campaign}/items/1/labels", headers=token_for(app, "ann"))
    assert np.array_equal(np.frombuffer(response.data, np.uint8).reshape(48, 96), nearest(STORED, 48, 96))


def test_a_mask_at_the_stored_maps_size_instead_of_the_images_is_refused(app, client, store, wide):
    campaign = dense_campaign(app, store, wide)
    response = client.put(f"/api/campaigns/{campaign}/items/1/mask?seconds=5&started_from=target",
                          data=STORED.tobytes(), content_type="application/octet-stream",
                          headers=token_for(app, "ann"))
    assert response.status_code == 400 and "96x48" in response.get_json()["error"]
