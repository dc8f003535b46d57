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
        for _ in range(600):  # a minute: importing torch on a loaded machine takes its time
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
        try:
            _, log = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()  # never left running, whatever the test found
            process.communicate()
            raise
    assert process.returncode == 0
    assert '"message": "stopped"' in log


@pytest.mark.parametrize("argv, members", [([], 1), (["--workers", "3"], 3)])
def test_discrepancy_runs_as_many_members_as_workers_asks_default_one(monkeypatch, argv, members):
    from segmad.cli import main
    from segmad.discrepancy import server

    started = []
    monkeypatch.setattr(server, "serve_worker", lambda *args, **kwargs: started.append(kwargs["members"]) or 0)
    assert main(["serve", "discrepancy", *argv]) == 0
    assert started == [members]


def test_discrepancy_refuses_fewer_than_one_member(capsys):
    from segmad.cli import main

    assert main(["serve", "discrepancy", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
