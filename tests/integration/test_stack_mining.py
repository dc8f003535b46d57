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
import signal
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import requests
from sqlalchemy import create_engine, text

from segmad import bootstrap, events
from segmad.ports.bus import DEAD_LETTERS, IMAGES, PREDICTIONS
from segmad.bench.pipeline_models import catalogue, pipeline_models
from segmad.cli import main
from segmad.codec import encode_png
from segmad.offline.mining import training_bounds
from segmad.rounds import control
from segmad.ingestion.service import ingest_arrays
from segmad.settings import Settings
from segmad.stack.components import StackConfig, tansu
from segmad.stack.process import free_ports, start, stop
from segmad.world import WorldConfig, stack

POOL = int(os.environ.get("SEGMAD_DIFFERENTIAL_POOL", "150"))
WORLD = WorldConfig(num_classes=3, size=32, s0_size=40, t0_size=0, pool_size=POOL, wild_size=0, seed=11)
C, N3 = WORLD.num_classes, 3
SEED = int(os.environ.get("SEGMAD_FAULT_SEED", "4"))

pytestmark = pytest.mark.slow


class Worker:
    """`segmad serve NAME` as a child process that the test kills and restarts."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path):
        self.name, self.env, self.log = name, env, log_dir / f"{name}.log"
        self.port = free_ports(1)[0]
        self.starts = 0
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "segmad.cli", "serve", self.name, "--port", str(self.port), "--workers", "1"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.starts += 1

    def kill(self) -> None:
        """kill -9, wherever it is."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def revive(self) -> None:
        """Start it again if it exited (a worker exits non-zero when the broker goes away under it)."""
        if self.process.poll() is not None:
            self.start()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def healthy(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False


@pytest.fixture
def isolated(local_stack, tmp_path):
    """(settings of this test's own schema, blob prefix and broker, the broker's Service) on the stack's servers."""
    database = local_stack.get("SEGMAD_DATABASE_URL")
    if not database:
        pytest.skip("no PostgreSQL for the stack")
    tag = uuid.uuid4().hex[:10]
    admin = create_engine(database)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "mining_{tag}"'))
    # A broker of this test's own on the stack's S3: it is restarted mid-stream, and its topics are this test's.
    cfg = StackConfig(root=tmp_path, ports={"s3": urlparse(local_stack["SEGMAD_S3_ENDPOINT"]).port,
                                            "kafka": free_ports(1)[0]},
                      s3_access_key=local_stack["SEGMAD_S3_ACCESS_KEY"], s3_secret_key=local_stack["SEGMAD_S3_SECRET_KEY"])
    broker = tansu(cfg, cluster_id=f"mining-{tag}")
    start(broker, tmp_path / "run", tmp_path / "logs")
    settings = Settings(
        data_dir=tmp_path / "data", database_url=f"{database}?options=-csearch_path%3Dmining_{tag}",
        bus=f"kafka://127.0.0.1:{broker.port}?session_timeout_ms=2000", blob_url=f"s3://segmad/mining-{tag}",
        s3_endpoint=local_stack["SEGMAD_S3_ENDPOINT"], s3_access_key=local_stack["SEGMAD_S3_ACCESS_KEY"],
        s3_secret_key=local_stack["SEGMAD_S3_SECRET_KEY"], torchserve_url="", num_classes=C)
    try:
        yield settings, broker
    finally:
        stop(broker, tmp_path / "run", grace_s=5)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "mining_{tag}" CASCADE'))
        admin.dispose()


def environment(settings: Settings) -> dict[str, str]:
    """What a worker process reads: the settings as SEGMAD_* variables, one torch thread."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SEGMAD_")},
            "SEGMAD_DATA_DIR": str(settings.data_dir), "SEGMAD_DATABASE_URL": settings.database_url,
            "SEGMAD_BUS": settings.bus, "SEGMAD_BLOB_URL": settings.blob_url,
            "SEGMAD_S3_ENDPOINT": settings.s3_endpoint, "SEGMAD_S3_ACCESS_KEY": settings.s3_access_key,
            "SEGMAD_S3_SECRET_KEY": settings.s3_secret_key, "SEGMAD_NUM_CLASSES": str(C), "OMP_NUM_THREADS": "1"}


def train_masks(folder: Path) -> Path:
    folder.mkdir()
    for i, mask in enumerate(stack(WORLD, "s0", range(WORLD.s0_size))[1]):
        (folder / f"s0-{i:06d}.png").write_bytes(encode_png(mask))
    return folder


def offline_selection(settings: Settings, masks: Path, out: Path, monkeypatch) -> dict:
    """`segmad predictions export` then `segmad select`, as a user would run them against the stack."""
    for key, value in environment(settings).items():
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


def dead_letters(ports, wait_s: float = 20.0) -> list[events.DeadLetter]:
    """The dead-letter topic's messages (both junk messages, each maybe twice if a worker died before its commit)."""
    letters, deadline = [], time.monotonic() + wait_s
    with ports.bus.subscribe([DEAD_LETTERS], f"reader-{uuid.uuid4().hex[:8]}") as reader:
        while len({letter.topic for letter in letters}) < 2 and time.monotonic() < deadline:
            letters += [events.from_bytes(events.DeadLetter, m.value) for m in reader.poll(100, 1.0)]
    return letters


# While the broker is down, kafka-python's producer abandons the sockets it was connecting; the garbage
# collector reports them unclosed at whatever moment it runs. They are collected, quietly, at the end.
@pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning")
def test_killed_workers_and_a_restarted_broker_still_mine_the_offline_selection(isolated, tmp_path, monkeypatch):
    settings, broker = isolated
    rng = random.Random(SEED)
    ports = bootstrap.build(settings)
    images = stack(WORLD, "pool", range(POOL))[0]
    ids = [f"pool-{i:06d}" for i in range(POOL)]
    models = pipeline_models(tmp_path / "no-zoo", C, images[:64])
    for model in models:
        catalogue(ports, model, C)
    masks = train_masks(tmp_path / "s0-masks")
    control.start(ports, 1, "target", "1", N3, 10, training_bounds(masks, C, progress=False)[0])
    workers = [Worker(name, environment(settings), tmp_path) for name in ("inference", "discrepancy")]
    for worker in workers:
        worker.start()

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
        have = {m.name: {p.image_id for p in ports.catalog.predictions_for_model_version(m.name, "1")} for m in models}
        if all(found == set(ids) for found in have.values()):
            offline = offline or offline_selection(settings, masks, tmp_path / "offline", monkeypatch)
            online = control.candidates(ports, 1)
            if same_selection(online, offline):
                break
        time.sleep(1.0)
    try:
        assert offline is not None, f"predictions missing after the faults: { {m: len(h) for m, h in have.items()} }"
        assert set(ports.catalog.image_ids()) == set(ids) and offline["images"]
        assert same_selection(online, offline), "the streamed M differs from offline `segmad select`"
        assert all(worker.healthy() for worker in workers), "a worker did not go on"
        letters = dead_letters(ports)
        assert {(letter.topic, letter.key) for letter in letters} == {(IMAGES, "junk"), (PREDICTIONS, "junk")}
    finally:
        codes = [worker.stop() for worker in workers]
        ports.close()
        # The broker went away under this process's live client: kafka-python abandons the socket it was
        # connecting then (laddr 0.0.0.0). Collect it now, quietly, rather than in some later test.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
    assert codes == [0, 0], "workers stop cleanly on SIGTERM"
    print(f"pool {POOL}, |M| {len(offline['images'])}, starts {[(w.name, w.starts) for w in workers]}")
