"""Background processes of the local stack and its saved config, with a tiny Python server for a service."""

from __future__ import annotations

import json
import os
import sys

import pytest

from segmad.stack.local import Stack
from segmad.stack.process import Service, free_ports, pid_of, port_open, start, stop


@pytest.fixture
def http_server(tmp_path) -> Service:
    (port,) = free_ports(1)
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    return Service(name="web", argv=argv, port=port, address=f"http://127.0.0.1:{port}", ready_timeout_s=20)


def test_a_started_service_runs_and_answers_on_its_port(http_server, tmp_path):
    pid = start(http_server, tmp_path / "run", tmp_path / "logs")
    try:
        assert pid_of(tmp_path / "run", "web") == pid and port_open(http_server.port)
    finally:
        stop(http_server, tmp_path / "run", grace_s=5)


def test_a_stopped_service_is_gone_with_its_pid_file(http_server, tmp_path):
    start(http_server, tmp_path / "run", tmp_path / "logs")
    assert stop(http_server, tmp_path / "run", grace_s=5)
    assert pid_of(tmp_path / "run", "web") is None and not (tmp_path / "run" / "web.pid").exists()


def test_a_service_that_exits_at_once_fails_to_start_and_names_its_log(tmp_path):
    dead = Service(name="dead", argv=[sys.executable, "-c", "raise SystemExit(3)"], port=free_ports(1)[0], address="-")
    with pytest.raises(RuntimeError, match="dead.log"):
        start(dead, tmp_path / "run", tmp_path / "logs")


def test_a_pid_file_whose_pid_runs_another_program_does_not_count_as_running(tmp_path):
    (tmp_path / "weed.pid").write_text(json.dumps({"pid": os.getpid(), "argv0": "/opt/bin/weed"}))
    assert pid_of(tmp_path, "weed") is None


def test_free_ports_are_distinct_and_free_with_their_offset_ports():
    ports = free_ports(5, also_free=10000)
    assert len(set(ports)) == 5 and not any(port_open(p) or port_open(p + 10000) for p in ports)


def test_the_stack_keeps_its_ports_and_keys_from_one_call_to_the_next(tmp_path):
    first, second = Stack(tmp_path).config(), Stack(tmp_path).config()
    assert first == second and (tmp_path / "stack.json").stat().st_mode & 0o077 == 0


def test_the_env_file_gives_clients_the_bus_and_blob_settings(tmp_path):
    stack = Stack(tmp_path)
    written = stack.write_env(database_url=None)
    assert stack.read_env() == written
    assert written["SEGMAD_BUS"].startswith("kafka://127.0.0.1:") and written["SEGMAD_BLOB_URL"] == "s3://segmad"


def test_a_stack_never_started_reports_its_servers_stopped_and_no_database(tmp_path):
    assert {row["name"]: row["state"] for row in Stack(tmp_path).status()} == {
        "seaweedfs": "stopped", "tansu": "stopped", "postgres": "unavailable"}
