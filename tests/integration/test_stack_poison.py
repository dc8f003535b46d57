"""A poison image among good ones, over the real stack with the workers as processes: the good images are
predicted and mined, the poison is dead-lettered and the inference worker stays up.

The poison passed ingestion (catalogued, stored, announced), but its blob was gone from S3 by the time the
inference worker read it: a permanent error (BlobNotFound), so the poll it came in is handled again one
message at a time and it alone goes to the dead-letter topic.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from segmad import bootstrap
from segmad.adapters.bus import InMemoryBus
from segmad.bench.pipeline_models import catalogue, pipeline_models
from segmad.ingestion.service import ingest_arrays
from segmad.mad import class_fractions, size_bounds
from segmad.pipeline import stages
from segmad.ports.bus import IMAGES
from segmad.ports.segmenter import ModelRef
from segmad.rounds import control
from segmad.world import WorldConfig, stack

GOOD = 24
WORLD = WorldConfig(num_classes=3, size=32, s0_size=40, t0_size=0, pool_size=GOOD + 1, wild_size=0, seed=12)
C, N3 = WORLD.num_classes, 3

pytestmark = pytest.mark.slow


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout_s:.0f} s"
        time.sleep(0.5)


def ingest_with_blob_gone(ports, image_id: str, image: np.ndarray) -> None:
    """Ingest an image, delete its blob from S3, then deliver the announcement ingestion made."""
    held = replace(ports, bus=InMemoryBus())  # holds the announcement back until the blob is gone
    ingest_arrays(held, [(image_id, image)], "poison")
    ports.blobs.delete(ports.catalog.image(image_id).blob_key)
    assert not ports.blobs.exists(ports.catalog.image(image_id).blob_key)
    with held.bus.subscribe([IMAGES], "held") as reader:
        [announcement] = reader.poll(10, 0)
    ports.bus.publish(IMAGES, announcement.key, announcement.value)


def test_an_image_whose_blob_is_gone_is_dead_lettered_while_the_good_ones_are_mined(isolated, serve, dead_letters,
                                                                                    tmp_path):
    settings, _ = isolated
    ports = bootstrap.build(settings)
    try:  # the workers are `serve`'s to stop and wait for, whatever fails here
        images = stack(WORLD, "pool", range(GOOD + 1))[0]
        good, poison = [f"pool-{i:06d}" for i in range(GOOD)], "pool-poison"
        models = pipeline_models(tmp_path / "no-zoo", C, images[:GOOD])
        for model in models:
            catalogue(ports, model, C)
        bounds = size_bounds(np.stack([class_fractions(m, C) for m in stack(WORLD, "s0", range(40))[1]]), C)
        control.start(ports, 1, "target", "1", N3, 10, bounds)
        inference, discrepancy = serve("inference"), serve("discrepancy")
        wait_for(lambda: inference.healthy() and discrepancy.healthy(), 60, "both workers answer /healthz")
        # The round's event first (the pool is empty then): this test is about an image's own message.
        wait_for(lambda: (inference.metric("segmad_inference_events_total") or 0) >= 1, 60,
                 "the inference worker handles the round's start")

        ingest_arrays(ports, ((i, images[n]) for n, i in enumerate(good[: GOOD // 2])), "world pool")
        ingest_with_blob_gone(ports, poison, images[GOOD])
        ingest_arrays(ports, ((i, images[n]) for n, i in enumerate(good) if n >= GOOD // 2), "world pool")
        ports.bus.flush()

        probes, expected = [], None

        def mined() -> bool:
            nonlocal expected
            probes.append(inference.healthy() and discrepancy.healthy())
            have = [{p.image_id for p in ports.catalog.predictions_for_model_version(m.name, "1")} for m in models]
            if any(found != set(good) for found in have):
                return False
            if expected is None:  # every good map is stored: the heaps one pass over them gives
                heaps = stages.score_pool(ports, ModelRef("target", "1"), [ModelRef(m.name, "1") for m in models[1:]],
                                          good, bounds, N3)
                expected = {"images": heaps.candidates(), "heaps": heaps.to_records()}
            return control.candidates(ports, 1) == expected

        wait_for(mined, 180, "every good image predicted by every model and mined")
        assert expected["images"], "the good images yield candidates"
        letters = dead_letters(ports, lambda letters: any(letter.key == poison for letter in letters))
        assert [(letter.topic, letter.key) for letter in letters] == [(IMAGES, poison)]
        assert letters[0].error.startswith("BlobNotFound: ")
        assert all(probes), "a worker stopped answering /healthz 200"
        assert inference.process.poll() is None and inference.starts == 1, "the inference worker went on"
        assert inference.metric("segmad_inference_dead_letters_total") == 1
        codes = [inference.stop(), discrepancy.stop()]
    finally:
        ports.close()
    assert codes == [0, 0], "workers stop cleanly on SIGTERM"
