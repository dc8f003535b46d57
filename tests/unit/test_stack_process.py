"""Background processes of the local stack and its saved config, with a tiny Python server for a service."""

from __future__ import annotations

import json
import os
import sys

import pytest

from segmad.commands.serve import SERVICES
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
        "seaweedfs": "stopped", "tansu": "stopped", "torchserve": "stopped", "postgres": "unavailable",
        **{name: "stopped" for name in SERVICES}}


def test_every_segmad_service_is_a_server_of_the_stack_on_a_port_of_its_own(tmp_path):
    stack = Stack(tmp_path)
    ports = {s.name: s.port for s in stack.services(("services",))}
    assert set(ports) == set(SERVICES) and len(set(ports.values()) | {s.port for s in stack.services(("infra",))}) == \
        len(ports) + len(stack.services(("infra",)))
    labelling = stack.service("labelling")
    assert labelling.health_url.endswith("/login") and stack.service("inference").health_url.endswith("/healthz")


def test_an_infra_only_stack_gives_clients_no_torchserve_and_skips_the_rest_in_its_status(tmp_path):
    stack = Stack(tmp_path)
    stack._save({**stack._saved(), "tiers": ["infra"]})
    written = stack.write_env(database_url=None, tiers=("infra",))
    assert "SEGMAD_TORCHSERVE_URL" not in written and "SEGMAD_BUS" in written
    states = {row["name"]: row["state"] for row in stack.status()}
    assert states["torchserve"] == states["inference"] == "skipped" and states["tansu"] == "stopped"


def test_the_full_stack_gives_clients_torchserve_with_its_management_address(tmp_path):
    written = Stack(tmp_path).write_env(database_url=None)
    assert "?management=http://127.0.0.1:" in written["SEGMAD_TORCHSERVE_URL"]


def test_a_server_added_since_the_first_start_gets_a_free_port_and_the_others_keep_theirs(tmp_path):
    stack = Stack(tmp_path)
    before = stack.config().ports
    saved = stack._saved()
    del saved["ports"]["inference"]
    stack._save(saved)
    after = stack.config().ports
    assert {k: v for k, v in after.items() if k != "inference"} == {k: v for k, v in before.items() if k != "inference"}
    assert after["inference"] not in {v for k, v in after.items() if k != "inference"}


def test_a_service_started_with_an_env_file_sees_its_settings(tmp_path):
    (port,) = free_ports(1)
    env_file = tmp_path / "env"
    env_file.write_text("SEGMAD_PROBE=from-the-file\n")
    out = tmp_path / "seen"
    code = (f"import os, http.server; open({str(out)!r}, 'w').write(os.environ['SEGMAD_PROBE']); "
            f"http.server.test(http.server.SimpleHTTPRequestHandler, port={port}, bind='127.0.0.1')")
    service = Service(name="probe", argv=[sys.executable, "-c", code], port=port, address="-", env_file=env_file,
                      health_url=f"http://127.0.0.1:{port}/", ready_timeout_s=20)
    start(service, tmp_path / "run", tmp_path / "logs")
    try:
        assert out.read_text() == "from-the-file"
    finally:
        stop(service, tmp_path / "run", grace_s=5)
