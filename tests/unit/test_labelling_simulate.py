"""Simulated annotators work campaigns over real HTTP exactly as the embedded demo's people would."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from sqlalchemy import select

from segmad.adapters.blobstore import LocalBlobStore
from segmad.catalog.schema import metadata
from segmad.cli import main
from segmad.codec import encode_png
from segmad.errors import InputError
from segmad.labelling import accounts, create_app
from segmad.labelling.campaigns import create_dense_campaign, create_weak_campaign
from segmad.labelling.palette import decode_label_map, encode_palette_png
from segmad.labelling.simulate import Credential, simulate_campaign
from segmad.labelling.simulate_cmd import read_tokens
from segmad.labelling.tables import annotators, campaign_items, dense_masks, mask_reviews, ratings
from segmad.mad import discrepancy
from segmad.mad.weak import OUT_OF_DOMAIN
from segmad.world import WorldConfig, sample
from segmad.world.annotators import AnnotatorConfig, SimulatedAnnotators

WORLD = WorldConfig(size=32, seed=5)
PEOPLE = AnnotatorConfig(count=3, seed=5, rating_noise=0.5)
PASSWORD = "simulated-pass"
CLASSES = [f"class{k}" for k in range(1, WORLD.num_classes + 1)]


def pool_indices(count: int) -> list[int]:
    """The first `count` pool images, plus the first out-of-domain one (so the veto shows)."""
    ood = next(i for i in range(count, 500) if not sample(WORLD, "pool", i).in_domain)
    return list(range(count)) + [ood]


def prediction_of(index: int, truth: np.ndarray) -> np.ndarray:
    """A target prediction that misses a band of rows, wider for some images (varied true mIoU)."""
    wrong = truth.copy()
    wrong[: 4 * (index % 6)] = 0
    return wrong


@pytest.fixture
def service(tmp_path, monkeypatch):
    """The app on SQLite + local blobs behind a real threaded HTTP server, with the world's pool."""
    from werkzeug.serving import make_server

    monkeypatch.setattr(accounts, "PASSWORD_METHOD", "pbkdf2:sha256:1000")
    store = LocalBlobStore(tmp_path / "blobs")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "BLOB_STORE": store,
                      "SECRET_KEY": "simulate-test"})
    engine = app.extensions["segmad.engine"]
    metadata.create_all(engine)
    predictions = {}
    for index in pool_indices(7):
        one = sample(WORLD, "pool", index)
        store.put(f"images/{one.image_id}.png", encode_png(one.image))
        predictions[one.image_id] = prediction_of(index, one.mask)
        store.put(f"pred/{one.image_id}.png", encode_palette_png(predictions[one.image_id]))
    tokens = {}
    with engine.begin() as conn:
        for name in ["admin"] + SimulatedAnnotators(PEOPLE).names:
            annotator_id = accounts.create_annotator(conn, name, PASSWORD, is_admin=name == "admin")
            tokens[name] = accounts.issue_token(conn, annotator_id)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{http.server_port}", "engine": engine, "store": store,
           "predictions": predictions, "tokens": tokens}
    http.shutdown()
    engine.dispose()


def open_campaign(service, kind: str) -> int:
    ids = sorted(service["predictions"])
    names = SimulatedAnnotators(PEOPLE).names
    with service["engine"].begin() as conn:
        if kind == "weak":
            items = [{"image_id": x, "image_key": f"images/{x}.png", "prediction_key": f"pred/{x}.png"} for x in ids]
            return create_weak_campaign(conn, service["store"], 1, items, names, n4=2, test_size=2,
                                        num_classes=WORLD.num_classes, class_names=CLASSES)
        items = [{"image_id": x, "image_key": f"images/{x}.png", "prediction_keys": {"target": f"pred/{x}.png"}}
                 for x in ids]
        return create_dense_campaign(conn, service["store"], 1, items, names,
                                     num_classes=WORLD.num_classes, class_names=CLASSES)


def tokens_of(service) -> dict:
    return {name: token for name, token in service["tokens"].items() if name != "admin"}


def expected_rating(service, annotator: int, image_id: str):
    """What the demo's weak_label asks of annotator `annotator` for this image."""
    truth = sample(WORLD, "pool", int(image_id.split("-")[1]))
    true_miou = 1.0 - discrepancy(service["predictions"][image_id], truth.mask)
    return SimulatedAnnotators(PEOPLE).rate(annotator, image_id, true_miou, truth.in_domain)


def test_weak_ratings_and_seconds_equal_the_simulated_annotators(service):
    campaign = open_campaign(service, "weak")
    result = simulate_campaign(service["url"], campaign, tokens_of(service), WORLD, PEOPLE)
    query = (select(campaign_items.c.image_id, annotators.c.name, ratings.c.score, ratings.c.out_of_domain,
                    ratings.c.seconds).select_from(ratings.join(campaign_items).join(
                 annotators, annotators.c.id == ratings.c.annotator_id)))
    with service["engine"].connect() as conn:
        stored = {(r.image_id, r.name): r for r in conn.execute(query)}
    names = SimulatedAnnotators(PEOPLE).names
    assert len(stored) == len(service["predictions"]) * 3
    for (image_id, name), row in stored.items():
        value, booking = expected_rating(service, names.index(name), image_id)
        assert (OUT_OF_DOMAIN if row.out_of_domain else float(row.score)) == value
        assert row.seconds == booking.seconds
        assert result["votes"][image_id][name] == ("ood" if value == OUT_OF_DOMAIN else int(value))
    assert any(row.out_of_domain for row in stored.values())
    assert len({row.score for row in stored.values()}) > 2  # the ratings follow the varied true mIoU


def test_annotators_can_sign_in_with_a_password_like_a_browser(service):
    campaign = open_campaign(service, "weak")
    credentials = {name: Credential(password=PASSWORD) for name in SimulatedAnnotators(PEOPLE).names}
    result = simulate_campaign(service["url"], campaign, credentials, WORLD, PEOPLE)
    assert result["progress"]["done"] == result["progress"]["expected"] == len(service["predictions"]) * 3


def test_dense_masks_are_the_truth_painted_in_turn_and_accepted_by_another_annotator(service):
    campaign = open_campaign(service, "dense")
    result = simulate_campaign(service["url"], campaign, tokens_of(service), WORLD, PEOPLE)
    people = SimulatedAnnotators(PEOPLE)
    query = (select(campaign_items.c.image_id, dense_masks.c.id, dense_masks.c.mask_key, dense_masks.c.status,
                    dense_masks.c.seconds, annotators.c.name)
             .select_from(dense_masks.join(campaign_items).join(annotators, annotators.c.id == dense_masks.c.annotator_id))
             .order_by(campaign_items.c.image_id))
    with service["engine"].connect() as conn:
        rows = conn.execute(query).all()
        reviewers = dict(conn.execute(select(mask_reviews.c.mask_id, annotators.c.name)
                                      .join(annotators, annotators.c.id == mask_reviews.c.reviewer_id)).all())
    assert [r.image_id for r in rows] == sorted(service["predictions"])
    for n, row in enumerate(rows):
        truth = sample(WORLD, "pool", int(row.image_id.split("-")[1])).mask
        mask, booking = people.paint(n % 3, row.image_id, truth)  # the demo's dense_label
        assert row.name == people.names[n % 3]
        assert np.array_equal(decode_label_map(service["store"].get(row.mask_key)), mask)
        assert row.seconds == booking.seconds
        assert row.status == "accepted"
        assert reviewers[row.id] not in ("", row.name)
    assert len(result["reviews"]) == len(rows)


def test_a_wrong_token_is_refused_with_the_services_message(service):
    campaign = open_campaign(service, "weak")
    credentials = tokens_of(service) | {"annotator-2": "not-a-token"}
    with pytest.raises(InputError, match="annotator-2: GET .* 401: sign in or send an API token"):
        simulate_campaign(service["url"], campaign, credentials, WORLD, PEOPLE)


def test_a_wrong_world_size_is_caught_before_rating(service):
    campaign = open_campaign(service, "weak")
    with pytest.raises(InputError, match="world size"):
        simulate_campaign(service["url"], campaign, tokens_of(service), WorldConfig(size=48, seed=5), PEOPLE)


def test_the_command_reads_a_tokens_file_and_reports_the_work(service, tmp_path, capsys):
    campaign = open_campaign(service, "weak")
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("".join(f"{name} {token}\n" for name, token in tokens_of(service).items()))
    code = main(["annotators", "simulate", "--url", service["url"], "--campaign", str(campaign),
                 "--tokens", str(tokens), "--world-seed", "5", "--world-size", "32", "--format", "json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["bookings"]) == len(service["predictions"]) * 3
    assert out["progress"]["done"] == out["progress"]["expected"]


def test_tokens_file_can_be_json_and_bad_lines_are_refused(tmp_path):
    good, bad = tmp_path / "t.json", tmp_path / "t.txt"
    good.write_text('{"annotator-1": "abc"}')
    bad.write_text("annotator-1\n")
    assert read_tokens(good) == {"annotator-1": "abc"}
    with pytest.raises(InputError, match='"NAME TOKEN"'):
        read_tokens(bad)


def simulate_command(*argv: str) -> int:
    """`segmad annotators simulate` against a port nobody serves: these fail before any request."""
    return main(["annotators", "simulate", "--url", "http://127.0.0.1:9", "--campaign", "1",
                 "--world-seed", "5", *argv])


def test_a_binary_tokens_file_is_one_line_naming_it(tmp_path, capsys):
    image = tmp_path / "img.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\xff\xfe")
    assert simulate_command("--tokens", str(image)) == 2
    assert capsys.readouterr().err == f"segmad annotators: error: {image}: not a text file of tokens\n"


@pytest.mark.parametrize("argv, message", [
    (["--num-classes", "0"], "--num-classes must be in 1..8, got 0"),
    (["--world-size", "0"], "--world-size must be at least 16 px, got 0"),
    (["--world-size", "100000"], "--world-size must be at most 4096 px, got 100000"),
])
def test_world_options_out_of_range_are_named(capsys, argv, message):
    assert simulate_command("--password", PASSWORD, *argv) == 2
    assert capsys.readouterr().err == f"segmad annotators: error: {message}\n"
