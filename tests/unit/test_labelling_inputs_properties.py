"""Labelling API under any JSON and query input: never a 500; every refusal a 4xx with a JSON message."""

import io
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from hypothesis import HealthCheck, event, given, settings, strategies as st

from labelling_fixtures import C, H, W, dense_items, label_map, png, stock, token_for, weak_items
from segmad.adapters.blobstore import LocalBlobStore
from segmad.catalog.schema import metadata
from segmad.labelling import create_app
from segmad.labelling.campaigns import create_dense_campaign, create_weak_campaign, list_items
from segmad.labelling.tables import dense_masks

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any JSON document, Python's NaN and Infinity included (its json module reads them), and the values
# that break things most often drawn more often than chance would.
edges = st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1, 0, 2**31, 2**63, 10**20, 10**400,
                         "", " ", "\n", "a\x00b", "\ud800", "é", "ood", "accept"])
scalars = (edges | st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
ids = st.integers(min_value=0, max_value=10) | st.integers(min_value=0, max_value=10**25)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One app for every example: a weak campaign, a dense one to upload to, ann's mask to review, tokens."""
    tmp = tmp_path_factory.mktemp("labelling-properties")
    store = LocalBlobStore(tmp / "blobs")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite'}", "BLOB_STORE": store,
                      "SECRET_KEY": "test", "TESTING": True})
    metadata.create_all(app.extensions["segmad.engine"])
    stock(app, store)
    with app.extensions["segmad.engine"].begin() as conn:
        weak = create_weak_campaign(conn, store, 1, weak_items(), ["ann", "bob"], n4=1, test_size=2,
                                    num_classes=C, class_names=["cat", "dog", "car"])
        dense, reviewed = (create_dense_campaign(conn, store, 1, dense_items(), ["ann", "bob"], num_classes=C,
                                                 class_names=["cat", "dog", "car"]) for _ in range(2))
        painted = list_items(conn, reviewed)[0]["id"]  # ann's to paint
        weak_ids, dense_ids = ([item["id"] for item in list_items(conn, c)] for c in (weak, dense))
    tokens = {name: token_for(app, name) for name in ("ann", "bob", "admin")}
    client = app.test_client()
    mask = client.put(f"/api/campaigns/{reviewed}/items/{painted}/mask?seconds=1", data=png(label_map(1)),
                      content_type="image/png", headers=tokens["ann"]).get_json()["mask_id"]
    return SimpleNamespace(client=client, engine=app.extensions["segmad.engine"], weak=weak, dense=dense,
                           reviewed=reviewed, mask=mask, weak_items=weak_ids, dense_items=dense_ids, **tokens)


def refused_properly_or_done(response) -> None:
    """The contract: no server error; a refusal is a 4xx carrying {"error": message}."""
    event(f"status {response.status_code}")  # --hypothesis-show-statistics tells how often each came
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.is_json and isinstance(response.get_json()["error"], str)


def send(site, method, url, body, who="ann"):
    # json.dumps writes NaN and Infinity as JS literals, as a careless client would.
    return site.client.open(url, method=method, data=json.dumps(body), content_type="application/json",
                            headers=getattr(site, who))


@SETTINGS
@given(body=json_values | st.fixed_dictionaries({"rating": json_values | st.sampled_from([1, 5, "ood", 3.0]),
                                                 "seconds": json_values | st.floats(0, 100)}),
       data=st.data())
def test_a_rating_is_stored_only_within_its_domain(site, body, data):
    item = data.draw(st.sampled_from(site.weak_items) | ids)
    url = f"/api/campaigns/{site.weak}/items/{item}/rating"
    response = send(site, "PUT", url, body)
    refused_properly_or_done(response)
    if response.status_code == 200:
        stored = site.client.get(url, headers=site.ann).get_json()["rating"]
        assert stored in (1, 2, 3, 4, 5, "ood") and (stored == "ood") == (body["rating"] == "ood")


weak_fields = {"round": st.integers(0, 3), "items": st.just(weak_items(2)), "annotators": st.just(["ann", "bob"]),
               "n4": st.integers(0, 2), "test_size": st.integers(0, 2), "num_classes": st.just(3),
               "class_names": st.just(["cat", "dog", "car"]), "seed": st.integers(0, 9)}
dense_fields = {"round": st.integers(0, 3), "items": st.just(dense_items(2)), "annotators": st.just(["ann"]),
                "num_classes": st.just(3), "class_names": st.just(["cat", "dog", "car"])}


near_misses = json_values | st.lists(json_values | st.text(max_size=6), max_size=3) | st.lists(
    st.dictionaries(st.sampled_from(["image_id", "image_key", "prediction_key", "prediction_keys"]),
                    json_values | st.sampled_from(["i0", "images/i0.png", "pred/target/i0.png"])), max_size=3)


@st.composite
def mostly_valid(draw, fields: dict):
    """A valid request but for up to two fields, each replaced by any JSON or by a near miss."""
    wrong = draw(st.sets(st.sampled_from(sorted(fields)), max_size=2))
    return {name: draw(near_misses if name in wrong else value) for name, value in fields.items()}


@SETTINGS
@given(kind=st.sampled_from(["weak", "dense"]), data=st.data())
def test_opening_a_campaign_never_fails_with_a_server_error(site, kind, data):
    body = data.draw(json_values | mostly_valid(weak_fields if kind == "weak" else dense_fields))
    response = send(site, "POST", f"/api/admin/campaigns/{kind}", body, who="admin")
    refused_properly_or_done(response)
    assert response.status_code in (201, 400)


@SETTINGS
@given(body=json_values | st.fixed_dictionaries({"decision": json_values | st.sampled_from(["accept", "return"]),
                                                 "comment": json_values | st.text(max_size=30)}),
       data=st.data())
def test_a_review_never_fails_with_a_server_error(site, body, data):
    # ann's mask waits for review before each example, whatever the one before decided.
    with site.engine.begin() as conn:
        conn.execute(dense_masks.update().where(dense_masks.c.id == site.mask).values(status="submitted"))
    campaign, mask = data.draw(st.just(site.reviewed) | ids), data.draw(st.just(site.mask) | ids)
    refused_properly_or_done(send(site, "POST", f"/api/campaigns/{campaign}/masks/{mask}/review", body, who="bob"))


def jpeg_of_zeros() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.zeros((H, W), np.uint8)).save(out, format="JPEG")
    return out.getvalue()


valid_uploads = st.sampled_from([("image/png", png(label_map(1))), ("application/octet-stream", bytes(H * W))])
uploads = valid_uploads | st.tuples(
    st.sampled_from(["image/png", "application/octet-stream", "image/jpeg", "text/plain"]),
    st.binary(max_size=64) | st.sampled_from([png(label_map(1)), label_map(2).tobytes(), png(label_map(9)),
                                              png(label_map(1)[:, :-1]), jpeg_of_zeros(), bytes(H * W)]))


@SETTINGS
@given(seconds=st.sampled_from(["1", "30.5"]) | st.text(max_size=12) | st.sampled_from(["1e309", "nan", "-0", "86401"]),
       started_from=st.none() | st.sampled_from(["target", "other", "import", ""]) | st.text(max_size=12),
       upload=uploads, data=st.data())
def test_a_mask_upload_never_fails_with_a_server_error(site, seconds, started_from, upload, data):
    content_type, upload = upload
    item = data.draw(st.sampled_from(site.dense_items) | ids)
    query = {"seconds": seconds} | ({} if started_from is None else {"started_from": started_from})
    response = site.client.put(f"/api/campaigns/{site.dense}/items/{item}/mask", query_string=query, data=upload,
                               content_type=content_type, headers=site.ann)
    refused_properly_or_done(response)
    if response.status_code == 200:  # let the next example save again
        site.client.post(f"/api/campaigns/{site.dense}/masks/{response.get_json()['mask_id']}/review",
                         json={"decision": "return", "comment": "again"}, headers=site.bob)
