"""Mining over the real stack, the workers as processes: M equals offline `segmad select` on the stack's own
exported predictions, through kill -9 of both workers at random points, a broker restart and junk messages.

The pool is small in `make test` (SEGMAD_DIFFERENTIAL_POOL, default 150 images of 32×32 px);
`make differential` runs the issue's 2,000. The models are untrained zoo architectures with BatchNorm
statistics from the pool (segmad.bench.pipeline_models), served in the inference worker's own process.
"""

from __future__ import annotations

import gc
import json
import os
import random
import time
from pathlib import Path

import numpy as np
import pytest

from segmad import bootstrap
from segmad.ports.bus import IMAGES, PREDICTIONS
from segmad.bench.pipeline_models import catalogue, pipeline_models
from segmad.cli import main
from segmad.codec import encode_png
from segmad.offline.mining import training_bounds
from segmad.rounds import control
from segmad.ingestion.service import ingest_arrays
from segmad.stack.process import start, stop
from segmad.world import WorldConfig, stack

POOL = int(os.environ.get("SEGMAD_DIFFERENTIAL_POOL", "150"))
WORLD = WorldConfig(num_classes=3, size=32, s0_size=40, t0_size=0, pool_size=POOL, wild_size=0, seed=11)
C, N3 = WORLD.num_classes, 3
SEED = int(os.environ.get("SEGMAD_FAULT_SEED", "4"))

pytestmark = pytest.mark.slow


def train_masks(folder: Path) -> Path:
    folder.mkdir()
    for i, mask in enumerate(stack(WORLD, "s0", range(WORLD.s0_size))[1]):
        (folder / f"s0-{i:06d}.png").write_bytes(encode_png(mask))
    return folder


def offline_selection(env: dict[str, str], masks: Path, out: Path, monkeypatch) -> dict:
    """`segmad predictions export` then `segmad select`, as a user would run them against the stack (`env`: a
    worker's settings)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["predictions", "export", "--round", "1", "--out", str(out / "export")]) == 0
    assert main(["select", "--predictions", str(out / "export"), "--target", "target", "--train-masks", str(masks),
                 "--num-classes", str(C), "--n3", str(N3), "--out", str(out / "select.json")]) == 0
    return json.loads((out / "select.json").read_text())


def same_selection(online: dict, offline: dict) -> bool:
    """Same M, same heaps with the same members in order, distances within 1e-6."""
    def heaps(doc):
        return [(h["competitor"], h["class"], h["partition_by"], [m["image"] for m in h["members"]]) for h in doc["heaps"]]

    distances = [abs(a["distance"] - b["distance"]) for x, y in zip(online["heaps"], offline["heaps"])
                 for a, b in zip(x["members"], y["members"])]
    return online["images"] == offline["images"] and heaps(online) == heaps(offline) and all(d <= 1e-6 for d in distances)


def test_killed_workers_and_a_restarted_broker_still_mine_the_offline_selection(isolated, serve, dead_letters,
                                                                                tmp_path, monkeypatch):
    settings, broker = isolated
    rng = random.Random(SEED)
    ports = bootstrap.build(settings)
    try:  # the workers are `serve`'s to stop and wait for, whatever fails here
        images = stack(WORLD, "pool", range(POOL))[0]
        ids = [f"pool-{i:06d}" for i in range(POOL)]
        models = pipeline_models(tmp_path / "no-zoo", C, images[:64])
        for model in models:
            catalogue(ports, model, C)
        masks = train_masks(tmp_path / "s0-masks")
        control.start(ports, 1, "target", "1", N3, 10, training_bounds(masks, C, progress=False)[0])
        workers = [serve(name) for name in ("inference", "discrepancy")]

        def ingest(chunk) -> None:
            ingest_arrays(ports, ((ids[i], images[i]) for i in chunk), "world pool")
            ports.bus.flush()

        def pause() -> None:
            """Until every worker consumes again, then on to a random point of its stream."""
            deadline = time.monotonic() + 60
            while not all(worker.healthy() for worker in workers) and time.monotonic() < deadline:
                for worker in workers:
                    worker.revive()
                time.sleep(0.2)
            time.sleep(rng.uniform(0.3, 2.0))

        chunks = np.array_split(np.arange(POOL), 4)
        ingest(chunks[0])
        ports.bus.publish(IMAGES, "junk", b"\xff not an ImageIngested")
        ports.bus.publish(PREDICTIONS, "junk", b"\xff not a PredictionReady")
        ports.bus.flush()
        pause()
        workers[0].kill()
        ingest(chunks[1])
        pause()
        workers[1].kill()
        pause()
        stop(broker, tmp_path / "run", grace_s=5)  # the broker goes away mid-stream and comes back with its log
        start(broker, tmp_path / "run", tmp_path / "logs")
        ingest(chunks[2])
        pause()
        for worker in workers:
            worker.kill()
        ingest(chunks[3])
        pause()
        workers[0].kill()
        pause()

        # Done once every image has every prediction and the heaps equal the offline selection: heaps that
        # hold the top-n3 of every pair cannot change when the remaining (repeated) pairs are pushed.
        deadline, offline, online = time.monotonic() + 240, None, None
        while time.monotonic() < deadline:
            for worker in workers:
                worker.revive()
            have = {m.name: {p.image_id for p in ports.catalog.predictions_for_model_version(m.name, "1")}
                    for m in models}
            if all(found == set(ids) for found in have.values()):
                offline = offline or offline_selection(workers[0].env, masks, tmp_path / "offline", monkeypatch)
                online = control.candidates(ports, 1)
                if same_selection(online, offline):
                    break
            time.sleep(1.0)
        assert offline is not None, f"predictions missing after the faults: { {m: len(h) for m, h in have.items()} }"
        assert set(ports.catalog.image_ids()) == set(ids) and offline["images"]
        assert same_selection(online, offline), "the streamed M differs from offline `segmad select`"
        assert all(worker.healthy() for worker in workers), "a worker did not go on"
        # Both junk messages, each maybe twice if a worker died before its commit.
        letters = dead_letters(ports, lambda letters: len({letter.topic for letter in letters}) == 2)
        assert {(letter.topic, letter.key) for letter in letters} == {(IMAGES, "junk"), (PREDICTIONS, "junk")}
        codes = [worker.stop() for worker in workers]
    finally:
        ports.close()
        gc.collect()  # what the run left unreferenced is reported here, not in some later test
    assert codes == [0, 0], "workers stop cleanly on SIGTERM"
    print(f"pool {POOL}, |M| {len(offline['images'])}, starts {[(w.name, w.starts) for w in workers]}")
