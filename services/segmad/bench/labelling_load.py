"""The parts of the labelling benchmark: a campaign to rate, the server process, the annotator threads."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from segmad.stack.process import free_ports


def _png(array: np.ndarray) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def prepare(url: str, blob_dir: Path, annotators: int, items: int, schema: str = "") -> tuple[int, list[str]]:
    """A weak campaign of `items` 64×64 images rated by `annotators` accounts; (campaign id, their tokens)."""
    from segmad.adapters.blobstore import LocalBlobStore
    from segmad.labelling import accounts
    from segmad.labelling.campaigns import create_weak_campaign
    from segmad.catalog import make_engine, migrate

    store, rng = LocalBlobStore(blob_dir), np.random.default_rng(0)
    for i in range(items):
        store.put(f"images/b{i}.png", _png(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)))
        store.put(f"pred/b{i}.png", _png(rng.integers(0, 4, (64, 64), dtype=np.uint8)))
    if schema:
        from sqlalchemy import create_engine, text
        with create_engine(url).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine = make_engine(url, schema or None)
    migrate(engine)  # as `serve labelling` does: the schema and indexes a deployment has
    accounts.PASSWORD_METHOD = "pbkdf2:sha256:1000"  # throwaway accounts; the API uses tokens
    with engine.begin() as conn:
        names = [f"bench{i}-{os.getpid()}" for i in range(annotators)]
        ids = [accounts.create_annotator(conn, name, "bench-password") for name in names]
        tokens = [accounts.issue_token(conn, i) for i in ids]
        campaign_id = create_weak_campaign(
            conn, store, 1, [{"image_id": f"b{i}", "image_key": f"images/b{i}.png",
                              "prediction_key": f"pred/b{i}.png"} for i in range(items)],
            names, n4=10, test_size=30, num_classes=3, class_names=["a", "b", "c"])
    engine.dispose()
    return campaign_id, tokens


@contextlib.contextmanager
def running_server(url: str, blob_dir: Path, workers: int, threads: int, schema: str = ""):
    """`segmad serve labelling` under gunicorn in a subprocess; yields its base URL."""
    import requests

    port = free_ports(1)[0]
    env = dict(os.environ, SEGMAD_DATABASE_URL=url, SEGMAD_BLOB_URL=f"file://{blob_dir}",
               SEGMAD_SECRET_KEY="bench", SEGMAD_DATA_DIR=str(blob_dir.parent),
               SEGMAD_DATABASE_SCHEMA=schema)
    server = subprocess.Popen([sys.executable, "-m", "segmad.cli", "serve", "labelling", "--port", str(port),
                               "--workers", str(workers), "--threads", str(threads)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/login", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the labelling server did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # never left running
            server.kill()
            server.wait()


class _Client:
    """One annotator's keep-alive HTTP connection (http.client: a browser spends no Python CPU here,
    and `requests` costs ~0.5 ms of this machine's CPU per call, which would be billed to the server)."""

    def __init__(self, base: str, token: str):
        host, port = base.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body=None) -> tuple[int, object]:
        """(status, parsed JSON body)."""
        self.connection.request(method, path, body=None if body is None else json.dumps(body),
                                headers=self.headers)
        response = self.connection.getresponse()
        return response.status, json.loads(response.read() or b"null")


def _annotator(base: str, campaign_id: int, token: str, think: float, out: dict, lock: threading.Lock) -> None:
    client = _Client(base, token)
    rng = np.random.default_rng(abs(hash(token)) % 2**32)
    nexts, submits, errors = [], [], 0
    while True:
        t0 = time.perf_counter()
        status, body = client.call("GET", f"/api/campaigns/{campaign_id}/next")
        nexts.append(time.perf_counter() - t0)
        if status != 200:
            errors += 1
            break
        items = body["items"]
        if not items:
            break
        vote = "ood" if rng.random() < 0.03 else int(rng.integers(1, 6))
        time.sleep(think * rng.uniform(0.5, 1.5))  # looking at the image
        t0 = time.perf_counter()
        status, _ = client.call("PUT", f"/api/campaigns/{campaign_id}/items/{items[0]['id']}/rating",
                                {"rating": vote, "seconds": 7.0})
        submits.append(time.perf_counter() - t0)
        errors += status != 200
    client.connection.close()
    with lock:
        out["next"].extend(nexts)
        out["submit"].extend(submits)
        out["errors"] += errors


def _summary(seconds: list[float]) -> dict:
    ms = np.array(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max()), "count": len(ms)}


def rate_concurrently(base: str, campaign_id: int, tokens: list[str], think: float = 0.0) -> dict:
    """Every annotator rates its whole queue at once, as fast as the server answers; the figures."""
    out, lock = {"next": [], "submit": [], "errors": 0}, threading.Lock()
    threads = [threading.Thread(target=_annotator, args=(base, campaign_id, t, think, out, lock)) for t in tokens]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    return {"next_item": _summary(out["next"]), "submit_rating": _summary(out["submit"]),
            "ratings": len(out["submit"]), "seconds": seconds,
            "ratings_per_second": len(out["submit"]) / seconds, "errors": out["errors"]}
