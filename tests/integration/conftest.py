"""Fixtures of the integration tests: the local stack of real servers, an isolated corner of it, and
`segmad serve` workers as child processes that are always stopped and waited for."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from sqlalchemy import create_engine, text

from segmad import events
from segmad.ports.bus import DEAD_LETTERS
from segmad.settings import Settings
from segmad.stack.components import StackConfig, tansu
from segmad.stack.local import INFRA_ONLY, Stack
from segmad.stack.process import free_ports, start, stop

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory) -> dict[str, str]:
    """SEGMAD_* settings of a live stack's infrastructure (S3, broker, PostgreSQL when one answers): the one
    `make up` started, else a private infra-only one for this session (TorchServe and the services are slow
    to start and these tests run their own)."""
    shared = Stack(REPO / "var" / "stack")
    # PostgreSQL is not the stack's own process: these tests need only the servers it runs.
    if shared.read_env() and all(row["state"] == "running" for row in shared.status()
                                 if row["tier"] == "infra" and row["name"] != "postgres"):
        yield {key: value for key, value in shared.read_env().items() if key != "SEGMAD_TORCHSERVE_URL"}
        return
    private = Stack(tmp_path_factory.mktemp("stack"))
    try:
        private.up(tiers=INFRA_ONLY)
        yield private.read_env()
    finally:
        # Throwaway data: no need to wait out SeaweedFS's 15 s graceful stop.
        private.down(grace_s=2)


@pytest.fixture(autouse=True)
def _broker_sockets_kafka_python_drops(request):
    """Sockets to this test's brokers that kafka-python dropped unclosed: no failure, and collected at the end.

    Every client segmad makes is closed, but kafka-python 3.0 now and then drops a connected socket to
    the broker without closing it (seen once in a full `make test`; not in three runs of the bus tests
    alone). The interpreter's ResourceWarning then fails whichever test the garbage collector happens to
    run in. During a test on a broker that warning is ignored for sockets to its brokers only (pytest
    restores the filters after each test), and the garbage is collected before the test ends, so that
    such a socket never reaches a later test.
    """
    ports = set()
    if "local_stack" in request.fixturenames:
        ports.add(urlparse(request.getfixturevalue("local_stack").get("SEGMAD_BUS", "")).port)
    if "isolated" in request.fixturenames:
        ports.add(urlparse(request.getfixturevalue("isolated")[0].bus).port)
    if "own_broker" in request.fixturenames:
        ports.add(request.getfixturevalue("own_broker").port)
    ports.discard(None)
    for port in ports:
        warnings.filterwarnings("ignore", category=ResourceWarning,
                                message=rf"unclosed <socket\.socket .*raddr=\('127\.0\.0\.1', {port}\)>")
    yield
    if ports:
        gc.collect()


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
    # A broker of this test's own on the stack's S3: a test may restart it, and its topics are this test's.
    cfg = StackConfig(root=tmp_path, ports={"s3": urlparse(local_stack["SEGMAD_S3_ENDPOINT"]).port,
                                            "kafka": free_ports(1)[0]},
                      s3_access_key=local_stack["SEGMAD_S3_ACCESS_KEY"], s3_secret_key=local_stack["SEGMAD_S3_SECRET_KEY"])
    broker = tansu(cfg, cluster_id=f"mining-{tag}")
    start(broker, tmp_path / "run", tmp_path / "logs")
    settings = Settings(
        data_dir=tmp_path / "data", database_url=f"{database}?options=-csearch_path%3Dmining_{tag}",
        bus=f"kafka://127.0.0.1:{broker.port}?session_timeout_ms=2000", blob_url=f"s3://segmad/mining-{tag}",
        s3_endpoint=local_stack["SEGMAD_S3_ENDPOINT"], s3_access_key=local_stack["SEGMAD_S3_ACCESS_KEY"],
        s3_secret_key=local_stack["SEGMAD_S3_SECRET_KEY"], torchserve_url="",
        num_classes=3)  # the C of these tests' synthetic worlds
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
            "SEGMAD_S3_SECRET_KEY": settings.s3_secret_key, "SEGMAD_NUM_CLASSES": str(settings.num_classes),
            "OMP_NUM_THREADS": "1"}


class Worker:
    """`segmad serve NAME` as a child process that a test may kill and restart."""

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
        """kill -9, wherever it is, and reap it."""
        self.process.send_signal(signal.SIGKILL)  # a no-op once it has been reaped
        self.process.wait()

    def revive(self) -> None:
        """Start it again if it exited (a worker exits non-zero when the broker goes away under it)."""
        if self.process.poll() is not None:
            self.start()

    def stop(self) -> int | None:
        """SIGTERM and wait (kill -9 after 30 s); its exit status, -9 if it had to be killed, None if never started."""
        if self.process is None:
            return None
        if self.process.poll() is not None:
            return self.process.returncode
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

    def metric(self, name: str) -> float | None:
        """A sample's value on the worker's /metrics (`segmad_inference_dead_letters_total`), None if absent."""
        for line in requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text.splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        return None


@pytest.fixture
def serve(isolated, tmp_path):
    """serve(NAME) starts `segmad serve NAME` on the isolated settings; every worker started is stopped and
    waited for at teardown, whatever the test did in between (before the broker goes: teardown runs in reverse)."""
    settings, _ = isolated
    started: list[Worker] = []

    def start_worker(name: str) -> Worker:
        worker = Worker(name, environment(settings), tmp_path)
        started.append(worker)
        worker.start()
        return worker

    try:
        yield start_worker
    finally:
        for worker in started:
            try:
                worker.stop()
            except Exception:  # stopping the others matters more than this one's error
                worker.process.kill()
                worker.process.wait()


def read_dead_letters(ports, enough, wait_s: float = 20.0) -> list[events.DeadLetter]:
    """The dead-letter topic's messages, read by a fresh group until `enough(letters)` or `wait_s` passed."""
    letters, deadline = [], time.monotonic() + wait_s
    with ports.bus.subscribe([DEAD_LETTERS], f"reader-{uuid.uuid4().hex[:8]}") as reader:
        while not enough(letters) and time.monotonic() < deadline:
            letters += [events.from_bytes(events.DeadLetter, m.value) for m in reader.poll(100, 1.0)]
    return letters


@pytest.fixture
def dead_letters():
    """read_dead_letters(ports, enough, wait_s): the dead-letter topic as a fresh reader sees it."""
    return read_dead_letters
