"""A stack server is detached on purpose: nothing of it is left for the interpreter to report (no subprocess
object still running at exit), and one that dies on its own is reaped, not left a zombie."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from segmad.stack.process import Service, free_ports, pid_of, start, stop


def web(tmp_path: Path) -> Service:
    (port,) = free_ports(1)
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    return Service(name="web", argv=argv, port=port, address=f"http://127.0.0.1:{port}", ready_timeout_s=20)


def gone(pid: int, timeout_s: float = 5.0) -> bool:
    """Whether `pid` has no process, not even a zombie, within the time."""
    deadline = time.monotonic() + timeout_s
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_server_that_died_on_its_own_is_reaped_and_stop_says_it_was_not_running(tmp_path):
    service = web(tmp_path)
    pid = start(service, tmp_path / "run", tmp_path / "logs")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while pid_of(tmp_path / "run", "web") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stop(service, tmp_path / "run", grace_s=2) is False
    assert gone(pid, timeout_s=0)  # its exit status was collected: no zombie


KILLED_THEN_STOPPED = """
import os, signal, sys, time
from pathlib import Path
from segmad.stack.process import Service, pid_of, start, stop
port, root = int(sys.argv[1]), Path(sys.argv[2])
argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)]
service = Service(name="web", argv=argv, port=port, address="-", ready_timeout_s=20)
os.kill(start(service, root / "run", root / "logs"), signal.SIGKILL)
while pid_of(root / "run", "web"):
    time.sleep(0.05)
assert stop(service, root / "run", grace_s=2) is False
"""


def test_a_process_whose_server_died_on_its_own_reports_nothing_at_exit(tmp_path):
    (port,) = free_ports(1)
    done = subprocess.run([sys.executable, "-X", "dev", "-W", "error", "-c", KILLED_THEN_STOPPED, str(port),
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")


def test_a_stopped_server_leaves_no_zombie(tmp_path):
    service = web(tmp_path)
    pid = start(service, tmp_path / "run", tmp_path / "logs")
    assert stop(service, tmp_path / "run", grace_s=5) and gone(pid, timeout_s=0)


SCRIPT = """
import sys
from pathlib import Path
from segmad.stack.process import Service, start
port, root = int(sys.argv[1]), Path(sys.argv[2])
argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)]
start(Service(name="web", argv=argv, port=port, address="-", ready_timeout_s=20), root / "run", root / "logs")
"""


def test_a_process_that_exits_leaving_its_server_running_reports_nothing(tmp_path):
    (port,) = free_ports(1)
    done = subprocess.run([sys.executable, "-X", "dev", "-W", "error", "-c", SCRIPT, str(port), str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    pid = json.loads((tmp_path / "run" / "web.pid").read_text())["pid"]
    try:
        assert done.returncode == 0 and done.stderr == ""
        assert pid_of(tmp_path / "run", "web") == pid  # still serving, as `segmad stack up` leaves it
    finally:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pid_of(tmp_path / "run", "web") and time.monotonic() < deadline:  # init reaps it, not this process
        time.sleep(0.05)
    assert pid_of(tmp_path / "run", "web") is None

