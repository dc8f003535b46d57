"""`segmad serve inference|discrepancy`: health and metrics over HTTP, a clean stop on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

from segmad.stack.process import free_ports
import pytest


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status, response.read().decode()


@pytest.mark.parametrize("service", ["inference", "discrepancy"])
def test_a_worker_service_is_healthy_exports_metrics_and_stops_on_sigterm(tmp_path, service):
    port = free_ports(1)[0]
    env = {**os.environ, "SEGMAD_DATA_DIR": str(tmp_path), "SEGMAD_BUS": "memory",
           "SEGMAD_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "SEGMAD_BLOB_URL": f"file://{tmp_path / 'b'}"}
    process = subprocess.Popen([sys.executable, "-m", "segmad.cli", "serve", service, "--port", str(port),
                                "--workers", "1"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            try:
                status, body = get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the service never answered")
        assert (status, body) == (200, '{"status": "ok"}')
        assert f"segmad_{service}_events_total 0.0" in get(f"http://127.0.0.1:{port}/metrics")[1]
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=10)
    assert process.returncode == 0
    assert '"message": "stopped"' in log
