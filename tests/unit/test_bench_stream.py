"""`segmad bench stream` at a tiny size: the figures' shape, and numbers that make sense."""

from __future__ import annotations

import json

import pytest

from segmad.bench.stream_world import SyntheticMaps
from segmad.cli import main
from segmad.ports.blobs import BlobNotFound

TINY = ["bench", "stream", "--images", "400", "--variants", "12", "--size", "16", "--classes", "3", "--n3", "2"]


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("stream") / "stream.json"
    assert main([*TINY, "--format", "json", "--out", str(out)]) == 0
    return json.loads(out.read_text())


def test_it_samples_every_twentieth_of_the_stream_and_ends_at_the_last_image(figures):
    assert [s["images"] for s in figures["samples"]] == list(range(0, 401, 20))


def test_every_sample_after_the_first_has_a_rate_memory_and_writes_per_image(figures):
    for s in figures["samples"][1:]:
        assert s["images_per_s"] > 0 and s["rss_mb"] > 10 and s["heap_writes_per_image"] >= 0
        assert s["pairs_per_image"] <= 4  # two pairs at the target's map, one again at each competitor's


def test_heap_writes_fall_off_as_the_heaps_fill(figures):
    samples = figures["samples"][1:]
    assert samples[0]["heap_writes_per_image"] > samples[-1]["heap_writes_per_image"]
    assert figures["heap_writes"] == sum(round(s["heap_writes_per_image"] * (s["images"] - p["images"]))
                                         for p, s in zip(figures["samples"], samples))


def test_the_summary_reports_growth_from_the_start(figures):
    assert figures["rss_growth_mb"] == pytest.approx(figures["rss_end_mb"] - figures["rss_start_mb"])
    assert figures["images_per_s"] > 0 and figures["database"] == "sqlite"


def test_an_image_s_maps_are_one_variant_and_other_keys_are_not_found():
    blobs = SyntheticMaps([{"target": b"t0", "competitor-a": b"a0"}, {"target": b"t1", "competitor-a": b"a1"}])
    image = "1234abcd-0000007"
    v = blobs.variant(image)
    assert blobs.get(f"predictions/target/1/{image}.png") == [b"t0", b"t1"][v]
    assert blobs.get(f"predictions/competitor-a/1/{image}.png") == [b"a0", b"a1"][v]
    with pytest.raises(BlobNotFound):
        blobs.get(f"predictions/target/2/{image}.png")
    with pytest.raises(BlobNotFound):
        blobs.get("images/ab/abc.png")


def test_an_empty_stream_is_a_user_error(capsys):
    assert main(["bench", "stream", "--images", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
