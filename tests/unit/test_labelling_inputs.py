"""Labelling service: malformed requests are refused with a 400 and a message, never a 500."""

import io
import zipfile

import pytest

from labelling_fixtures import app, client, dense, store, token_for, weak, weak_items  # noqa: F401


def weak_body(**changes) -> dict:
    """A valid request to open a weak campaign, with `changes`."""
    return {"round": 2, "items": weak_items(1), "annotators": ["ann"], "n4": 1, "test_size": 1,
            "num_classes": 3, "class_names": ["cat", "dog", "car"], **changes}


def open_weak(app, client, **changes):
    return client.post("/api/admin/campaigns/weak", json=weak_body(**changes), headers=token_for(app, "admin"))


def test_a_path_id_beyond_the_integer_range_is_refused(app, client, weak):
    response = client.get("/api/campaigns/99999999999999999999", headers=token_for(app, "ann"))
    assert response.status_code == 400 and "campaign_id" in response.get_json()["error"]


def test_an_admin_path_id_beyond_the_integer_range_is_refused(app, client):
    response = client.post("/api/admin/campaigns/99999999999999999999/close", headers=token_for(app, "admin"))
    assert response.status_code == 400


def test_a_json_integer_beyond_the_integer_range_is_refused(app, client):
    response = open_weak(app, client, round=10**20)
    assert response.status_code == 400 and "round" in response.get_json()["error"]


def test_json_nested_too_deep_is_refused(app, client, weak):
    response = client.put(f"/api/campaigns/{weak}/items/1/rating", data="[" * 100_000 + "]" * 100_000,
                          content_type="application/json", headers=token_for(app, "ann"))
    assert response.status_code == 400


@pytest.mark.parametrize("items", [[1], ["i0"], [[]], "i0", {"image_id": "i0"}])
def test_items_that_are_not_a_list_of_objects_are_refused(app, client, items):
    response = open_weak(app, client, items=items)
    assert response.status_code == 400 and "items" in response.get_json()["error"]


def test_an_annotator_named_twice_is_refused(app, client):
    response = open_weak(app, client, annotators=["ann", "ann"])
    assert response.status_code == 400 and "once" in response.get_json()["error"]


def test_an_item_whose_image_is_not_an_image_is_refused(app, client, store):
    store.put("images/notes.png", b"not an image at all")
    items = [{"image_id": "i0", "image_key": "images/notes.png", "prediction_key": "pred/target/i0.png"}]
    response = open_weak(app, client, items=items)
    assert response.status_code == 400 and "not a readable image" in response.get_json()["error"]


@pytest.mark.parametrize("text", ["1e309", "-1e309", "Infinity", "NaN", "10" + "0" * 400, "3.5", "true"])
def test_a_rating_is_only_1_to_5_or_ood(app, client, weak, text):
    ann = token_for(app, "ann")
    response = client.put(f"/api/campaigns/{weak}/items/1/rating", data=f'{{"rating": {text}, "seconds": 1}}',
                          content_type="application/json", headers=ann)
    assert response.status_code == 400
    assert client.get(f"/api/campaigns/{weak}/items/1/rating", headers=ann).get_json()["rating"] is None


@pytest.mark.parametrize("text", ["1e309", "NaN", "-1", "10" + "0" * 400])
def test_seconds_are_a_finite_number_within_a_day(app, client, weak, text):
    response = client.put(f"/api/campaigns/{weak}/items/1/rating", data=f'{{"rating": 3, "seconds": {text}}}',
                          content_type="application/json", headers=token_for(app, "ann"))
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["cat\ndog", "cat\r", "tab\there", "nul\x00", "line\u2028sep", "bell\x07"])
def test_class_names_with_control_characters_are_refused(app, client, name):
    response = open_weak(app, client, class_names=[name, "dog", "car"])
    assert response.status_code == 400 and "control character" in response.get_json()["error"]


def test_the_voc_class_list_has_one_line_per_class(app, client):
    campaign = open_weak(app, client, class_names=["big cat", "dög", "car"]).get_json()["id"]
    client.post(f"/api/admin/campaigns/{campaign}/close", headers=token_for(app, "admin"))
    data = client.get(f"/api/admin/campaigns/{campaign}/export/voc", headers=token_for(app, "admin")).data
    lines = zipfile.ZipFile(io.BytesIO(data)).read("class_names.txt").decode().splitlines()
    assert lines == ["background", "big cat", "dög", "car"]


def test_a_lone_surrogate_in_json_is_refused(app, client, dense):
    client.put(f"/api/campaigns/{dense}/items/1/mask?seconds=1", data=bytes(48),
               content_type="application/octet-stream", headers=token_for(app, "ann"))
    response = client.post(f"/api/campaigns/{dense}/masks/1/review", data='{"decision": "return", "comment": "\\ud800"}',
                           content_type="application/json", headers=token_for(app, "bob"))
    assert response.status_code == 400


def test_a_page_id_beyond_the_integer_range_is_refused(app, client, weak):
    response = client.get("/campaigns/99999999999999999999/rate", headers=token_for(app, "ann"))
    assert response.status_code == 400
