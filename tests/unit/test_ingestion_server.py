"""`segmad serve ingestion`: gunicorn workers that count in shared metric files, log JSON, stop on SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time

from segmad.stack.process import free_ports
import pytest
import requests
from ingestion_fixtures import encode, halves

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path):
    port = free_ports(1)[0]
    env = {**os.environ, "SEGMAD_DATA_DIR": str(tmp_path), "SEGMAD_BUS": "memory"}
    for name in ("SEGMAD_DATABASE_URL", "DATABASE_URL", "SEGMAD_BLOB_URL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "segmad.cli", "serve", "ingestion", "--port", str(port), "--workers", "2",
         "--threads", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    yield url, process
    if process.poll() is None:
        process.kill()
        process.wait()
    process.stderr.close()


def test_the_served_app_counts_logs_json_and_stops_cleanly_on_sigterm(server):
    url, process = server
    png = encode(halves(40, 40), "PNG")
    statuses = [requests.post(f"{url}/images", files={"image": ("a.png", png)}, timeout=10).status_code
                for _ in range(4)]
    metrics = requests.get(f"{url}/metrics", timeout=10).text
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert statuses == [201, 200, 200, 200]
    # With several workers /metrics reads the shared files: nothing counted there, nothing shown.
    assert 'segmad_ingestion_images_total{outcome="ingested"} 1.0' in metrics
    assert 'segmad_ingestion_images_total{outcome="duplicate"} 3.0' in metrics
    logs = [json.loads(line) for line in process.stderr.read().splitlines()]
    outcomes = [entry["message"] for entry in logs if entry["logger"] == "segmad.ingestion"]
    assert outcomes == ["ingested"] + ["duplicate"] * 3
    assert logs[-1]["message"] == "Shutting down: Master"
