"""Ingesting one image: stored once by content, catalogued, announced; duplicates and refusals recorded."""

import io

import numpy as np
import pytest
from ingestion_fixtures import CORPUS, encode, halves, noise, ports  # noqa: F401  (fixtures)
from PIL import ImageCms, PngImagePlugin

from segmad import events
from segmad.ports.bus import IMAGES
from segmad.ingestion.batch import ingest_all
from segmad.ingestion.service import DUPLICATE, INGESTED, REJECTED, ingest_bytes
from segmad.ingestion.sources import Input
from segmad.ingestion.service import ingest_arrays
from segmad.codec import encode_png
from segmad.ingestion.normalise import Rejected, normalise


def png_with_metadata() -> bytes:
    """An RGB PNG with an ICC profile, a transparent colour and a text chunk: none of it may reach the stored PNG."""
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "hello")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    halves(40, 40).save(buffer, format="PNG", icc_profile=icc, transparency=(0, 0, 255), pnginfo=text)
    return buffer.getvalue()


def sound(name: str) -> bool:
    try:
        normalise(CORPUS[name]())
    except Rejected:
        return False
    return True


def announced(ports) -> list[events.ImageIngested]:
    with ports.bus.subscribe([IMAGES], "test-reader") as consumer:
        return [events.from_bytes(events.ImageIngested, m.value) for m in consumer.poll(1000, 0)]


def state(ports) -> tuple:
    """Everything ingestion writes: catalog rows, rejections, blob keys, announcements."""
    images = [ports.catalog.image(i) for i in ports.catalog.image_ids()]
    rejections = [(r.source, r.reason) for r in ports.catalog.rejections()]
    return images, rejections, list(ports.blobs.keys()), announced(ports)


def test_a_new_image_is_stored_catalogued_and_announced(ports):
    outcome = ingest_bytes(ports, encode(halves(40, 40), "PNG"), "a.png")
    image = ports.catalog.image(outcome.image_id)
    assert outcome.status == INGESTED
    assert ports.blobs.get(image.blob_key) == encode(halves(40, 40), "PNG", compress_level=1)
    assert announced(ports) == [events.ImageIngested(image.image_id, image.sha256, image.blob_key, 40, 40)]


def test_the_image_id_comes_from_the_content_unless_given(ports):
    derived = ingest_bytes(ports, encode(halves(40, 40), "PNG"), "a.png")
    given = ingest_bytes(ports, encode(noise(), "PNG"), "b.png", image_id="pool-7")
    assert derived.image_id == ports.catalog.image(derived.image_id).sha256[:16]
    assert given.image_id == "pool-7"


def test_the_same_content_in_another_file_is_a_duplicate_stored_once(ports):
    ingest_bytes(ports, encode(halves(40, 40), "PNG"), "a.png")
    again = ingest_bytes(ports, encode(halves(40, 40), "BMP"), "a.bmp")  # other bytes, same pixels
    assert again.status == DUPLICATE
    assert len(list(ports.blobs.keys())) == 1 and len(announced(ports)) == 1


def test_known_content_under_a_new_id_is_a_duplicate_not_a_second_image(ports):
    ingest_bytes(ports, encode(halves(40, 40), "PNG"), "a.png", image_id="first")
    again = ingest_bytes(ports, encode(halves(40, 40), "PNG"), "b.png", image_id="second")
    assert again.status == DUPLICATE and ports.catalog.image_ids() == ["first"]


def test_an_id_naming_other_content_is_refused(ports):
    ingest_bytes(ports, encode(halves(40, 40), "PNG"), "a.png", image_id="x")
    clash = ingest_bytes(ports, encode(noise(), "PNG"), "b.png", image_id="x")
    assert clash.status == REJECTED and clash.reason_code == "id-taken"


def test_a_refusal_is_recorded_with_its_reason(ports):
    outcome = ingest_bytes(ports, b"", "empty.jpg")
    assert outcome.status == REJECTED
    assert [(r.source, r.reason) for r in ports.catalog.rejections()] == [("empty.jpg", "empty: zero bytes")]


def test_ingesting_the_corpus_twice_changes_nothing(ports):
    corpus = [Input(name, make) for name, make in sorted(CORPUS.items())]
    first = ingest_all(ports, corpus)
    before = state(ports)
    second = ingest_all(ports, corpus)
    assert state(ports) == before
    assert (second.ingested, second.duplicates) == (0, first.ingested)
    assert second.rejected_by_reason == first.rejected_by_reason


def test_the_embedded_loop_ingests_arrays_the_same_way(ports):
    arrays = [("w-0", np.asarray(halves(8, 8))), ("w-1", np.asarray(noise(8, 8)))]
    assert ingest_arrays(ports, arrays, "world:pool") == 2
    assert ingest_arrays(ports, arrays, "world:pool") == 0
    assert [e.image_id for e in announced(ports)] == ["w-0", "w-1"]


@pytest.mark.parametrize("make", [png_with_metadata] + [CORPUS[n] for n in CORPUS if sound(n)])
def test_the_stored_png_is_the_png_of_the_normalised_array(ports, make):
    # Content ids must not depend on how the pixels reached the encoder.
    data = make()
    outcome = ingest_bytes(ports, data, "a")
    assert ports.blobs.get(ports.catalog.image(outcome.image_id).blob_key) == encode_png(normalise(data))
