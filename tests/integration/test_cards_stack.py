"""The round of tests/unit/test_cards_round.py on the real stack: PostgreSQL, SeaweedFS S3, the Tansu Kafka
broker, and a real TorchServe serving cards of all three formats.

Models are added by card through TorchServe's release port (the SegFormer target and "wider", Python
cards; fcn8s, TorchScript; unet, ONNX). The pool (16 images of mixed sizes) is ingested into S3 and
PostgreSQL and announced on Kafka; `segmad serve inference` and `segmad serve discrepancy` run as child
processes that predict through TorchServe and mine. The weak and dense campaigns are simulated, and the
trainer fine-tunes the SegFormer (2 steps) into v1, which TorchServe then serves as the default.

TorchServe must import a Python card's entry (a team installs its package into TorchServe's Python):
here "wider"'s entry is tests/unit/card_models.py, put on TorchServe's PYTHONPATH.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

UNIT = Path(__file__).resolve().parents[1] / "unit"
sys.path.insert(0, str(UNIT))  # round_world and card_models, as the unit tests import them

from segmad import bootstrap  # noqa: E402
from segmad.adapters.s3 import S3BlobStore  # noqa: E402
from segmad.adapters.torchserve import TorchServeSegmenter  # noqa: E402
from segmad.adapters.torchserve_management import Management  # noqa: E402
from segmad.codec import decode_png, encode_png  # noqa: E402
from segmad.ingestion.service import ingest_arrays  # noqa: E402
from segmad.offline.mining import training_bounds  # noqa: E402
from segmad.pipeline import sets, stages  # noqa: E402
from segmad.pipeline.keys import label_key, prediction_key  # noqa: E402
from segmad.pipeline.models import is_card, load_card_version  # noqa: E402
from segmad.ports.segmenter import ModelRef  # noqa: E402
from segmad.publish.register import add_card  # noqa: E402
from segmad.rounds import control  # noqa: E402
from segmad.trainer.training import train_round  # noqa: E402
from segmad.world import sample, stack  # noqa: E402
from tests.integration.conftest import Worker, environment  # noqa: E402
from segmad.stack.services import torchserve_missing  # noqa: E402
from tests.integration.test_torchserve import torchserve  # noqa: E402,F401  (the fixture)

pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")

from tests.unit.card_models import write_cards  # noqa: E402
from tests.unit.test_cards_round import C, CONFIG, POOL, SIZES, SPACE, WORLD, label_round, pool_item  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(torchserve_missing()), reason=torchserve_missing() or "ok")]
MODELS = ("segformer", "fcn8s", "unet", "wider")


@pytest.fixture(scope="module")
def served(request):
    """(inference URL, management URL, model store) of a private TorchServe whose Python imports tests/unit."""
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(UNIT), previous) if p)
    try:  # TorchServe's Java server and its Python workers inherit the environment it starts with
        return request.getfixturevalue("torchserve")
    finally:
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous


def add_models(ports, folder: Path) -> None:
    """The round's four models, added by card; "wider"'s entry named as TorchServe's Python imports it."""
    paths = write_cards(folder, SPACE)
    wider = json.loads(Path(paths["wider"]).read_text())
    Path(paths["wider"]).write_text(json.dumps(wider | {"entry": "card_models:quarter"}))
    for name, path in paths.items():
        add_card(ports, name, "v0", path, space=SPACE)


def wait_for_mining(ports, workers: list[Worker], timeout_s: float = 240.0) -> dict:
    """control.candidates once every model has predicted the pool and the workers' heaps equal one offline
    pass over the stored maps (heaps that hold every pair's top-n3 do not change any more)."""
    deadline, offline = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        for worker in workers:
            assert worker.process.poll() is None, f"{worker.name} exited: {worker.log.read_text()[-2000:]}"
        progress = control.prediction_progress(ports, 1)
        if all(n == progress["pool"] for n in progress.values()):
            if offline is None:
                mining, _ = control.mined(ports, 1)
                pool = sorted(set(ports.catalog.image_ids()) - mining.excluded)
                heaps = stages.score_pool(ports, mining.target, mining.competitors, pool, mining.bounds, mining.n3)
                offline = {"images": heaps.candidates(), "heaps": heaps.to_records()}
            online = control.candidates(ports, 1)
            if same_heaps(online, offline):
                return online
        time.sleep(0.5)
    raise AssertionError(f"mining did not finish: {control.prediction_progress(ports, 1)}")


def same_heaps(online: dict, offline: dict) -> bool:
    """Same M, same heaps with the same members in order."""
    def heaps(doc):
        return sorted((h["competitor"], h["class"], h["partition_by"], [m["image"] for m in h["members"]])
                      for h in doc["heaps"])

    return online["images"] == offline["images"] and heaps(online) == heaps(offline)


def test_a_cards_round_on_the_stack_ends_with_the_segformer_v1_served_by_torchserve(isolated, served, tmp_path):
    inference, management_url, store = served
    settings = dataclasses.replace(isolated[0], torchserve_url=f"{inference}?management={management_url}",
                                   model_store=store)
    management = Management(management_url)
    ports = bootstrap.build(settings)
    workers: list[Worker] = []
    try:
        assert isinstance(ports.blobs, S3BlobStore) and isinstance(ports.segmenter, TorchServeSegmenter)
        for name in ("s0", "t0"):
            size = WORLD.s0_size if name == "s0" else WORLD.t0_size
            sets.put_set(ports, name, [f"{name}-{i:06d}" for i in range(size)], *stack(WORLD, name, range(size)), C)
        add_models(ports, tmp_path)
        assert {ModelRef(name, "v0") for name in MODELS} <= set(management.models())
        ingest_arrays(ports, ((i, pool_item(int(i[-6:]))[0]) for i in POOL), "test")
        ports.bus.flush()
        (tmp_path / "s0-masks").mkdir()
        for i in range(WORLD.s0_size):
            (tmp_path / "s0-masks" / f"s0-{i:06d}.png").write_bytes(encode_png(sample(WORLD, "s0", i).mask))
        bounds = training_bounds(tmp_path / "s0-masks", C, progress=False)[0]
        control.start(ports, 1, "segformer", "v0", 2, 4, bounds, list(SPACE.names[1:]))
        ports.bus.flush()
        env = environment(settings) | {"SEGMAD_TORCHSERVE_URL": settings.torchserve_url,
                                       "SEGMAD_MODEL_STORE": str(store), "SEGMAD_CLASSES": ",".join(SPACE.names)}
        for name in ("inference", "discrepancy"):
            workers.append(Worker(name, env, tmp_path))
            workers[-1].start()
        mined = wait_for_mining(ports, workers)
        assert [w.stop() for w in workers] == [0, 0], "workers stop cleanly on SIGTERM"

        # Every model's maps, made by TorchServe, stored in S3 at each image's own size in the run's space.
        for image_id in POOL:
            for name in MODELS:
                label_map = decode_png(ports.blobs.get(prediction_key(name, "v0", image_id)))
                assert label_map.shape == SIZES[int(image_id[-6:]) % len(SIZES)], name
                assert set(np.unique(label_map)) <= {0, 1, 2, 3, 255}, name
        wider = np.concatenate([decode_png(ports.blobs.get(prediction_key("wider", "v0", i))).ravel() for i in POOL])
        assert (wider == 255).any() and (wider < 255).any()  # kite and moon are ignored, the rest is mapped
        assert {h["competitor"] for h in mined["heaps"]} == {"fcn8s", "unet", "wider"} and mined["images"]

        S, T = label_round(ports)
        assert S
        for image_id in S + T:  # the accepted masks, in S3 at each image's own size
            assert decode_png(ports.blobs.get(label_key(1, image_id))).shape == SIZES[int(image_id[-6:]) % len(SIZES)]
        train_round(ports, 1, CONFIG)

        v0, v1 = ports.catalog.model_version("segformer", "v0"), ports.catalog.model_version("segformer", "v1")
        assert v1 is not None and is_card(v1) and v1.parent_version == "v0" and v1.trained_on_round == 1
        assert v1.metrics["card"] == v0.metrics["card"] and v1.metrics["run_classes"] == list(SPACE.names)
        assert ports.blobs.get(v1.blob_key) != ports.blobs.get(v0.blob_key)
        assert ports.catalog.default_version("segformer") == "v1"
        assert ModelRef("segformer", "v1") in management.models() and management.default_version("segformer") == "v1"
        assert {e.model for e in ports.catalog.evaluations(1)} == set(MODELS)

        # TorchServe's v1 answers each image at its own size with the in-process card model's maps of v1.
        images = [pool_item(i)[0] for i in range(8)]
        served_maps = ports.segmenter.predict("segformer", "v1", images)
        local_maps, _ = load_card_version(ports, ModelRef("segformer", "v1")).predict(images)
        for image, got, want in zip(images, served_maps, local_maps):
            assert got.shape == want.shape == image.shape[:2]
            assert np.array_equal(got, want)
    finally:
        for worker in workers:
            if worker.stop() not in (0, None):
                print(f"{worker.name}: {worker.log.read_text()[-2000:]}")
        ports.close()
        gc.collect()
