"""The two runs `segmad bench pipeline` compares: in-process (embedded adapters) and over the local stack.

Both ingest the same world pool images and mine round 1 with the same models and batch size; each
is timed from its first ingest to its last heap update.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from segmad import bootstrap, events
from segmad.ports.bus import PREDICTIONS
from segmad.ports.segmenter import ModelRef
from segmad.bench.pipeline_models import PipelineModel, catalogue, zoo_checkpoint
from segmad.mad import SizeBounds
from segmad.rounds import control
from segmad.ingestion.service import ingest_arrays
from segmad.pipeline import stages
from segmad.settings import Settings
from segmad.stack.process import Service, free_ports, start, stop


@dataclass(frozen=True)
class Pool:
    """What both runs mine: images, their ids, the size bounds, n3, C, the models' input size and batch size."""

    ids: list[str]
    images: np.ndarray
    bounds: SizeBounds
    n3: int
    num_classes: int
    input_size: int
    batch_size: int


def refs(models: list[PipelineModel]) -> tuple[ModelRef, list[ModelRef]]:
    """(target, competitors) as model versions "1"."""
    return ModelRef(models[0].name, "1"), [ModelRef(m.name, "1") for m in models[1:]]


def embedded(models: list[PipelineModel], pool: Pool) -> dict:
    """Ingest, predict and mine in this process on SQLite, a local folder and the in-memory bus."""
    with tempfile.TemporaryDirectory(prefix="segmad-bench-") as tmp:
        ports = bootstrap.build(Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/catalog.db",
                                         blob_url=f"file://{tmp}/blobs", bus="memory", torchserve_url=""))
        try:
            for model in models:
                catalogue(ports, model, pool.num_classes)
                ports.segmenter.register(model.name, "1", model.module)
                ports.segmenter.predict(model.name, "1", pool.images[:1])  # warm-up, as TorchServe's below
            target, competitors = refs(models)
            control.start(ports, 1, target.name, "1", pool.n3, 10, pool.bounds)
            began = time.perf_counter()
            ingest_arrays(ports, zip(pool.ids, pool.images), "bench")
            for ref in [target, *competitors]:
                stages.predict(ports, ref, pool.ids, pool.num_classes, batch_size=pool.batch_size)
            heaps = stages.mine(ports, 1, target, competitors, pool.ids, pool.bounds, pool.n3)
            seconds = time.perf_counter() - began
        finally:
            ports.close()
    return {"seconds": seconds, "images_per_s": len(pool.ids) / seconds, "candidates": len(heaps.candidates())}


# Where the stack's CPU goes during a run: each component by a piece of its processes' command lines.
COMPONENTS = (("seaweedfs (S3; Tansu's log lives there too)", "weed server"), ("tansu (broker)", "tansu"),
              ("torchserve frontend (java)", "org.pytorch.serve.ModelServer"),
              ("torchserve model workers", "model_service_worker.py"),
              ("inference worker", "segmad.cli serve inference"), ("discrepancy worker", "segmad.cli serve discrepancy"),
              ("postgresql", "postgres"))


def cpu_seconds() -> dict[str, float] | None:
    """CPU seconds (user + system) used so far by each component's live processes and by this process (which
    ingests); None where /proc cannot tell (not Linux). Differences of two calls say what a run cost."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    totals = {name: 0.0 for name, _ in COMPONENTS}
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        fields = stat.rsplit(")", 1)[1].split()
        for name, marker in COMPONENTS:
            if marker in command or (marker == "postgres" and command.startswith("postgres")):
                totals[name] += (int(fields[11]) + int(fields[12])) / tick
                break
    own = os.times()
    totals["ingestion (the benchmark's process)"] = own.user + own.system
    return totals


def _samples(url: str):
    """The samples of a Prometheus text page (prometheus_client's parser)."""
    text = requests.get(url, timeout=5).text
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def metrics(port: int) -> dict[str, float]:
    """A worker's /metrics as {sample name: value} (label-free samples only)."""
    return {sample.name: sample.value for sample in _samples(f"http://127.0.0.1:{port}/metrics") if not sample.labels}


def s3_requests(url: str | None) -> dict[str, float] | None:
    """SeaweedFS's S3 requests so far, {"BUCKET TYPE": count} over every status code; None without its metrics."""
    if not url:
        return None
    try:
        samples = _samples(url)
    except requests.RequestException:
        return None
    found: dict[str, float] = {}
    for sample in samples:
        if sample.name == "SeaweedFS_s3_request_total":
            key = f"{sample.labels.get('bucket', '')} {sample.labels.get('type', '')}"
            found[key] = found.get(key, 0.0) + sample.value
    return found


def _worker(name: str, env: dict[str, str]) -> Service:
    port = free_ports(1)[0]
    return Service(name=f"bench-{name}", argv=[sys.executable, "-m", "segmad.cli", "serve", name, "--port", str(port),
                                               "--workers", "1"],
                   port=port, address=f"http://127.0.0.1:{port}", env=env,
                   health_url=f"http://127.0.0.1:{port}/healthz", ready_timeout_s=120.0)


def _wait(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


class StackRun:
    """Round 1 over a running stack's PostgreSQL, S3, broker and TorchServe, in a schema, prefix and bus
    namespace of its own, with the inference and discrepancy workers as processes."""

    def __init__(self, env: dict[str, str], work: Path, say=print, torchserve: bool = True):
        self.env, self.work, self.say = env, work, say
        self.tag = uuid.uuid4().hex[:8]
        self.schema = f"bench_{self.tag}"
        database = env["SEGMAD_DATABASE_URL"]
        self.admin = create_engine(database)
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        self.settings = Settings(
            data_dir=work / "data", database_url=f"{database}?options=-csearch_path%3D{self.schema}",
            bus=f"{env['SEGMAD_BUS']}?namespace=bench-{self.tag}", blob_url=f"s3://segmad/bench-{self.tag}",
            s3_endpoint=env["SEGMAD_S3_ENDPOINT"], s3_access_key=env["SEGMAD_S3_ACCESS_KEY"],
            s3_secret_key=env["SEGMAD_S3_SECRET_KEY"], torchserve_url=env["SEGMAD_TORCHSERVE_URL"] if torchserve else "")
        self.ports = bootstrap.build(self.settings)
        self.workers: list[Service] = []
        self.published: list[str] = []

    def worker_env(self, num_classes: int) -> dict[str, str]:
        s = self.settings
        return {**{k: v for k, v in os.environ.items() if not k.startswith("SEGMAD_")},
                "SEGMAD_DATA_DIR": str(s.data_dir), "SEGMAD_DATABASE_URL": s.database_url, "SEGMAD_BUS": s.bus,
                "SEGMAD_BLOB_URL": s.blob_url, "SEGMAD_S3_ENDPOINT": s.s3_endpoint,
                "SEGMAD_S3_ACCESS_KEY": s.s3_access_key, "SEGMAD_S3_SECRET_KEY": s.s3_secret_key,
                "SEGMAD_TORCHSERVE_URL": s.torchserve_url, "SEGMAD_NUM_CLASSES": str(num_classes)}

    def publish(self, models: list[PipelineModel], pool: Pool) -> None:
        """Archive each model for TorchServe, register it (server-side batch = the pool's batch size), catalogue it.

        Without TorchServe, only catalogue it: the inference worker loads it into its own process.
        """
        from segmad.publish.service import publish

        if not self.settings.torchserve_url:
            for model in models:
                catalogue(self.ports, model, pool.num_classes)
            return
        management = self.ports.segmenter.management
        for model in models:
            checkpoint = zoo_checkpoint(model, pool.num_classes, pool.input_size, self.work / f"{model.name}.pt")
            publish(management, Path(self.env["SEGMAD_MODEL_STORE"]), model.name, "1",
                    checkpoint=checkpoint, batch_size=pool.batch_size, max_batch_delay_ms=20)
            self.published.append(model.name)
            catalogue(self.ports, model, pool.num_classes)
            self.ports.segmenter.predict(model.name, "1", pool.images[:1])  # the worker's first request is warm

    def run(self, models: list[PipelineModel], pool: Pool) -> dict:
        """Start the workers, open the round, ingest the pool; seconds from first ingest to last heap write."""
        env = self.worker_env(pool.num_classes)
        self.workers = [_worker("inference", env), _worker("discrepancy", env)]
        for worker in self.workers:
            start(worker, self.work / "run", self.work / "logs")
        inference, discrepancy = (w.port for w in self.workers)
        target, _ = refs(models)
        control.start(self.ports, 1, target.name, "1", pool.n3, 10, pool.bounds)
        # Both workers have joined their groups once each has handled one event: the round for inference,
        # for discrepancy a prediction of an image that is not in the catalog (it scores no pair).
        self.ports.bus.publish(PREDICTIONS, "warm-up", events.to_bytes(
            events.PredictionReady("warm-up", target.name, "1", "none", [1.0])))
        self.ports.bus.flush()
        _wait(lambda: metrics(inference).get("segmad_inference_events_total", 0) >= 1, 120, "inference to join")
        _wait(lambda: metrics(discrepancy).get("segmad_discrepancy_events_total", 0) >= 1, 120, "discrepancy to join")
        expected = 1 + len(models) * len(pool.ids)  # the warm-up, then one PredictionReady per model and image
        cpu_before, s3_before = cpu_seconds(), s3_requests(self.env.get("SEGMAD_S3_METRICS_URL"))
        began = time.time()
        ingest_arrays(self.ports, zip(pool.ids, pool.images), "bench")
        self.ports.bus.flush()
        ingested = time.time()
        self.say(f"stack: ingested {len(pool.ids)} images in {ingested - began:.1f} s; mining ...")
        _wait(lambda: metrics(discrepancy).get("segmad_discrepancy_events_total", 0) >= expected, 3600,
              "the discrepancy worker to see every prediction")
        cpu_after, s3_after = cpu_seconds(), s3_requests(self.env.get("SEGMAD_S3_METRICS_URL"))
        inferred, discrepancy_metrics = (metrics(w.port) for w in self.workers)
        last_write = discrepancy_metrics["segmad_discrepancy_last_db_write_seconds"]
        seconds = last_write - began
        n = len(pool.ids)
        return {"seconds": seconds, "images_per_s": n / seconds, "ingest_seconds": ingested - began,
                "discrepancy_db_writes_per_image": discrepancy_metrics["segmad_discrepancy_db_writes_total"] / n,
                "inference_db_writes_per_image": inferred["segmad_inference_db_writes_total"] / n,
                # Seconds each worker spent handling polls (the rest it waited for messages).
                "inference_busy_seconds": inferred["segmad_inference_poll_seconds_sum"],
                "discrepancy_busy_seconds": discrepancy_metrics["segmad_discrepancy_poll_seconds_sum"],
                "candidates": len(control.candidates(self.ports, 1)["images"]),
                # CPU seconds each component used from the first ingest to the last heap update (a worker's
                # poll may run on a little past it): what the services path costs, by component.
                "cpu_seconds": ({name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
                                if cpu_before and cpu_after else None),
                # S3 requests per image by bucket and type ("segmad PUT", "tansu LIST", ...): the blobs of the
                # run, and the broker's log, which Tansu keeps on the same S3.
                "s3_requests_per_image": ({key: (s3_after[key] - s3_before.get(key, 0.0)) / n for key in s3_after
                                           if s3_after[key] > s3_before.get(key, 0.0)}
                                          if s3_before is not None and s3_after is not None else None)}

    def close(self) -> None:
        """Stop the workers, unregister the models, drop the schema."""
        for worker in self.workers:
            stop(worker, self.work / "run", grace_s=30)
        for name in self.published:
            management = self.ports.segmenter.management
            requests.delete(f"{management.url}/models/{name}/1", timeout=60)
            Path(self.env["SEGMAD_MODEL_STORE"], f"{name}-1.mar").unlink(missing_ok=True)
        self.ports.close()
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()
