"""Labelling service: rating M, closing into S and T, painting, review, statistics, export, import."""

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from labelling_fixtures import (  # noqa: F401  (fixtures)
    app, client, dense, label_map, png, store, token_for, weak,
)


def rate(client, headers, campaign, item, value, seconds=2.0):
    return client.put(f"/api/campaigns/{campaign}/items/{item}/rating",
                      json={"rating": value, "seconds": seconds}, headers=headers)


def test_next_gives_the_first_unrated_item_and_one_to_preload(app, client, weak):
    headers = token_for(app, "ann")
    rate(client, headers, weak, 1, 4)
    body = client.get(f"/api/campaigns/{weak}/next", headers=headers).get_json()
    assert [i["image_id"] for i in body["items"]] == ["i1", "i2"]
    assert body["progress"] == {"rated": 1, "total": 4}


def test_a_rating_can_be_changed_while_open_and_counts_once(app, client, weak):
    headers = token_for(app, "ann")
    rate(client, headers, weak, 1, 4)
    rate(client, headers, weak, 1, "ood")
    assert client.get(f"/api/campaigns/{weak}/items/1/rating", headers=headers).get_json()["rating"] == "ood"
    assert client.get(f"/api/campaigns/{weak}/next", headers=headers).get_json()["progress"]["rated"] == 1


def test_closing_computes_mos_with_veto_and_selects_s_and_t(app, client, weak):
    ann, bob, admin = token_for(app, "ann"), token_for(app, "bob"), token_for(app, "admin")
    for item, (a, b) in enumerate([(1, 2), (5, 5), ("ood", 1), (3, 4)], start=1):
        rate(client, ann, weak, item, a)
        rate(client, bob, weak, item, b)
    result = client.post(f"/api/admin/campaigns/{weak}/close", headers=admin).get_json()
    assert result["mos"] == {"i0": 1.5, "i1": 5.0, "i2": None, "i3": 3.5}
    assert result["counterexamples"] == ["i0"] and result["out_of_domain"] == ["i2"]
    assert result["test_set"] == ["i1", "i3"]
    assert rate(client, ann, weak, 1, 3).status_code == 409


def test_stats_give_counts_median_seconds_and_alpha(app, client, weak):
    ann, bob = token_for(app, "ann"), token_for(app, "bob")
    for item, seconds in ((1, 2.0), (2, 4.0), (3, 9.0)):
        rate(client, ann, weak, item, item, seconds)
        rate(client, bob, weak, item, item, 1.0)
    body = client.get(f"/api/admin/campaigns/{weak}/stats", headers=token_for(app, "admin")).get_json()
    assert body["annotators"][0] == {"annotator": "ann", "ratings": 3, "median_seconds_per_rating": 4.0,
                                     "masks": 0, "median_seconds_per_mask": None, "reviews": 0}
    assert body["krippendorff_alpha"] == 1.0


def save(client, headers, campaign, item, array, started_from="target", seconds=30):
    return client.put(f"/api/campaigns/{campaign}/items/{item}/mask?seconds={seconds}&started_from={started_from}",
                      data=array.tobytes(), content_type="application/octet-stream", headers=headers)


def test_prefill_labels_come_from_the_chosen_model(app, client, dense):
    response = client.get(f"/api/campaigns/{dense}/items/1/labels?model=other", headers=token_for(app, "ann"))
    assert np.array_equal(np.frombuffer(response.data, np.uint8).reshape(6, 8), label_map(2))


def test_a_returned_mask_goes_back_to_its_painter_with_the_comment(app, client, dense):
    ann, bob = token_for(app, "ann"), token_for(app, "bob")
    save(client, ann, dense, 1, label_map(1))
    assert client.get(f"/api/campaigns/{dense}/queue", headers=bob).get_json()["review"][0]["mask_id"] == 1
    client.post(f"/api/campaigns/{dense}/masks/1/review", json={"decision": "return", "comment": "tail"},
                headers=bob)
    queue = client.get(f"/api/campaigns/{dense}/queue", headers=ann).get_json()["paint"]
    assert queue[0] == {"item_id": 1, "image_id": "i0", "status": "returned", "comment": "tail"}


def test_painters_cannot_review_their_own_mask(app, client, dense):
    ann = token_for(app, "ann")
    save(client, ann, dense, 1, label_map(1))
    response = client.post(f"/api/campaigns/{dense}/masks/1/review", json={"decision": "accept"}, headers=ann)
    assert response.status_code == 403


def test_mask_seconds_add_up_over_resaves(app, client, dense):
    ann, bob, admin = token_for(app, "ann"), token_for(app, "bob"), token_for(app, "admin")
    save(client, ann, dense, 1, label_map(1), seconds=30)
    client.post(f"/api/campaigns/{dense}/masks/1/review", json={"decision": "return", "comment": "x"}, headers=bob)
    save(client, ann, dense, 1, label_map(1), seconds=10)
    stats = client.get(f"/api/admin/campaigns/{dense}/stats", headers=admin).get_json()["annotators"]
    assert stats[0]["masks"] == 1 and stats[0]["median_seconds_per_mask"] == 40.0


def accept(client, app, dense):
    save(client, token_for(app, "ann"), dense, 1, label_map(3))
    client.post(f"/api/campaigns/{dense}/masks/1/review", json={"decision": "accept"}, headers=token_for(app, "bob"))


def test_voc_export_holds_palette_pngs_and_the_class_list(app, client, dense):
    accept(client, app, dense)
    data = client.get(f"/api/admin/campaigns/{dense}/export/voc", headers=token_for(app, "admin")).data
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.read("class_names.txt").decode().split() == ["background", "cat", "dog", "car"]
    image = Image.open(io.BytesIO(archive.read("SegmentationClass/i0.png")))
    assert image.mode == "P" and np.array_equal(np.array(image), label_map(3))


# pycocotools' decode trips numpy 2's copy-keyword deprecation; the export itself does not use it.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_coco_export_has_an_rle_annotation_per_class_present(app, client, dense):
    from pycocotools import mask as coco_mask
    accept(client, app, dense)
    coco = client.get(f"/api/admin/campaigns/{dense}/export/coco", headers=token_for(app, "admin")).get_json()
    (annotation,) = coco["annotations"]
    rle = {"size": annotation["segmentation"]["size"], "counts": annotation["segmentation"]["counts"].encode()}
    assert annotation["category_id"] == 3 and annotation["area"] == 24
    assert np.array_equal(coco_mask.decode(rle), (label_map(3) == 3).astype(np.uint8))


def test_imported_voc_masks_are_checked_and_wait_for_review(app, client, dense):
    admin = token_for(app, "admin")
    ok = client.put(f"/api/admin/campaigns/{dense}/items/2/import", data=png(label_map(2)),
                    content_type="image/png", headers=admin)
    bad = client.put(f"/api/admin/campaigns/{dense}/items/1/import", data=png(np.full((6, 8), 9, np.uint8)),
                     content_type="image/png", headers=admin)
    assert ok.get_json()["status"] == "submitted" and bad.status_code == 400


def test_admin_opens_a_weak_campaign_through_the_api(app, client):
    items = [{"image_id": "i0", "image_key": "images/i0.png", "prediction_key": "pred/target/i0.png"}]
    body = {"round": 2, "items": items, "annotators": ["ann"], "n4": 1, "test_size": 30, "num_classes": 3,
            "class_names": ["cat", "dog", "car"]}
    response = client.post("/api/admin/campaigns/weak", json=body, headers=token_for(app, "admin"))
    info = client.get(f"/api/campaigns/{response.get_json()['id']}", headers=token_for(app, "ann")).get_json()
    assert info["kind"] == "weak" and info["items"] == 1 and json.dumps(info["class_names"])


def test_healthz_answers_without_signing_in_while_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_healthz_is_503_when_the_database_does_not_answer(app, client, tmp_path):
    from sqlalchemy import create_engine
    app.extensions["segmad.engine"] = create_engine(f"sqlite:///{tmp_path}")  # a folder: cannot be opened
    response = client.get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"


def test_metrics_count_requests_by_endpoint_and_status_and_the_work_saved(app, client, weak):
    ann = token_for(app, "ann")
    rate(client, ann, weak, 1, 4)
    rate(client, ann, weak, 2, "nine")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'segmad_labelling_requests_total{endpoint="api.rate",status="200"} 1.0' in text
    assert 'segmad_labelling_requests_total{endpoint="api.rate",status="400"} 1.0' in text
    assert 'segmad_labelling_work_total{kind="rating"} 1.0' in text
