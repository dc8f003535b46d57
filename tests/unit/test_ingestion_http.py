"""POST /images, /healthz and /metrics of the ingestion service (Flask test client, embedded ports)."""

import io

import pytest
from ingestion_fixtures import encode, halves, noise, ports  # noqa: F401  (fixtures)

from segmad import events
from segmad.ports.bus import IMAGES
from segmad.ingestion.app import create_app
from segmad.ingestion.limits import Limits


@pytest.fixture
def client(ports):
    app = create_app({"PORTS": ports, "LIMITS": Limits(max_bytes=100_000), "TESTING": True})
    return app.test_client()


def post(client, *files, **form):
    data = {"image": [(io.BytesIO(body), name) for name, body in files], **form}
    return client.post("/images", data=data, content_type="multipart/form-data")


def test_an_uploaded_image_is_ingested_and_announced(client, ports):
    reply = post(client, ("a.png", encode(halves(40, 40), "PNG")))
    [result] = reply.get_json()["results"]
    assert reply.status_code == 201 and result["status"] == "ingested"
    with ports.bus.subscribe([IMAGES], "test-reader") as consumer:
        [message] = consumer.poll(10, 0)
    assert events.from_bytes(events.ImageIngested, message.value).image_id == result["image_id"]


def test_uploading_it_again_answers_duplicate(client):
    post(client, ("a.png", encode(halves(40, 40), "PNG")))
    reply = post(client, ("copy.png", encode(halves(40, 40), "PNG")))
    assert reply.status_code == 200 and reply.get_json()["results"][0]["status"] == "duplicate"


def test_a_bad_file_is_refused_with_its_reason(client):
    reply = post(client, ("page.html", b"<html></html>"))
    [result] = reply.get_json()["results"]
    assert reply.status_code == 422 and result["reason"].startswith("not-an-image:")


def test_several_files_get_one_result_each(client):
    reply = post(client, ("a.png", encode(halves(40, 40), "PNG")), ("b.jpg", b""))
    assert reply.status_code == 201
    assert [r["status"] for r in reply.get_json()["results"]] == ["ingested", "rejected"]


def test_the_callers_image_id_is_kept(client):
    reply = post(client, ("a.png", encode(halves(40, 40), "PNG")), image_id="pool-3")
    assert reply.get_json()["results"][0]["image_id"] == "pool-3"


def test_a_request_without_a_file_is_a_bad_request(client):
    assert client.post("/images", data={}, content_type="multipart/form-data").status_code == 400


def test_an_upload_over_the_size_limit_is_too_large(client):
    assert post(client, ("big.png", b"\0" * 200_000)).status_code == 413


def test_healthz_answers_while_the_catalog_does(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_metrics_count_outcomes_reasons_and_request_time(client):
    post(client, ("a.png", encode(halves(40, 40), "PNG")), ("b.png", encode(noise(), "PNG")), ("c.jpg", b""))
    text = client.get("/metrics").get_data(as_text=True)
    assert 'segmad_ingestion_images_total{outcome="ingested"} 2.0' in text
    assert 'segmad_ingestion_rejections_total{reason="empty"} 1.0' in text
    assert 'segmad_ingestion_request_seconds_count{status="201"} 1.0' in text
