"""Background server processes: start detached with a pid file and a log, check, stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Service:
    """One server of the stack: how to run it, where it answers, what it gives the env file."""

    name: str
    argv: list[str]
    port: int  # ready once this TCP port accepts
    address: str  # what `status` shows, e.g. http://127.0.0.1:8333
    env: dict[str, str] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)  # SEGMAD_* settings for clients of this server
    before_start: Callable[[], None] | None = None  # e.g. write its config file
    after_start: Callable[[], None] | None = None  # e.g. create buckets, once the port answers
    ready_timeout_s: float = 60.0
    stop_timeout_s: float = 30.0
    health_url: str | None = None  # ready (and running, for `status`) once this answers 200
    env_file: Path | None = None  # KEY=VALUE lines read at start, under `env` (the stack's client settings)
    process_group: bool = False  # signal the whole group: a launcher whose children must stop with it


def healthy(url: str) -> bool:
    """Whether GET url answers 200 within a second."""
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def answers(service: Service) -> bool:
    """Its port accepts and, where it has one, its health URL answers 200."""
    return port_open(service.port) and (service.health_url is None or healthy(service.health_url))


def _environment(service: Service) -> dict[str, str]:
    env = dict(os.environ)
    if service.env_file is not None and service.env_file.exists():
        env.update(line.split("=", 1) for line in service.env_file.read_text().splitlines() if "=" in line)
    return {**env, **service.env}


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _ephemeral_low() -> int:
    """Lowest port the kernel hands to outgoing connections (Linux ip_local_port_range)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(count: int, also_free: int = 0, start: int = 10000, stop: int | None = None) -> list[int]:
    """`count` ports with nothing listening (nor on port + `also_free`, when given), pseudo-randomly spread.

    They stay below the kernel's ephemeral range: a port chosen there can be taken by any outgoing
    connection (SeaweedFS makes many) between the choice and the server's bind — seen here as
    Tansu failing with "Address in use".
    """
    stop = stop if stop is not None else _ephemeral_low() - also_free
    if stop <= start:
        raise RuntimeError(f"no room for ports between {start} and {stop}")
    found: list[int] = []
    candidate = start + (os.getpid() * 7919 + time.monotonic_ns() // 1000) % (stop - start)
    for _ in range(stop - start):
        candidate = start + (candidate - start + 97) % (stop - start)
        wanted = [candidate] + ([candidate + also_free] if also_free else [])
        if not any(p in found or p - also_free in found or port_open(p) for p in wanted):
            found.append(candidate)
            if len(found) == count:
                return found
    raise RuntimeError(f"no {count} free ports between {start} and {stop}")


def _pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def _recorded(run_dir: Path, name: str) -> dict | None:
    """What the pid file of `name` says (pid, argv0), or None."""
    try:
        return json.loads(_pid_file(run_dir, name).read_text())
    except (FileNotFoundError, ValueError):
        return None


def pid_of(run_dir: Path, name: str) -> int | None:
    """The pid of the running process `name` started, or None (no pid file, or it has exited)."""
    recorded = _recorded(run_dir, name)
    if recorded is None:
        return None
    pid = recorded["pid"]
    _reap(pid)  # if it is our exited child, so that it does not look alive
    try:
        # The same program, not a stranger that got the pid after a reboot.
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None
    if cmdline == recorded["argv0"] and status != "Z":
        return pid
    _reap(pid)  # it may have exited since the first look
    return None


def _spawn_detached(argv: list[str], env: dict[str, str], log: Path) -> int:
    """Start argv in a session of its own, stdin from /dev/null, stdout and stderr appended to `log`; its pid.

    Detached on purpose: the server outlives this process (`segmad stack up` returns at once). So it is no
    subprocess.Popen, which would report a server still running whenever it is dropped or this process
    exits; the pid file names it, `_reap` collects its exit status (`pid_of`, `stop`), and once this
    process has exited, init does.
    """
    with open(log, "ab") as out:
        return os.posix_spawnp(argv[0], argv, env, setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 2),
        ])


def start(service: Service, run_dir: Path, log_dir: Path) -> int:
    """Start `service` detached (it outlives this process) and wait until its port answers; its pid."""
    if pid_of(run_dir, service.name):
        raise RuntimeError(f"{service.name} is already running")
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    if service.before_start:
        service.before_start()
    pid = _spawn_detached(service.argv, _environment(service), log_dir / f"{service.name}.log")
    _pid_file(run_dir, service.name).write_text(json.dumps({"pid": pid, "argv0": service.argv[0]}))
    deadline = time.monotonic() + service.ready_timeout_s
    while not answers(service):
        if _reap(pid) or time.monotonic() > deadline:
            stop(service, run_dir, grace_s=2)
            raise RuntimeError(f"{service.name} did not start; see {log_dir / service.name}.log")
        time.sleep(0.2)
    if service.after_start:
        service.after_start()
    return pid


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def stop(service: Service, run_dir: Path, grace_s: float | None = None) -> bool:
    """SIGTERM, then SIGKILL after the grace time; whether it was running.

    A `process_group` service is signalled as a group and stopped once every member has exited
    (TorchServe's launcher leaves before its Java server and workers).
    """
    pid = pid_of(run_dir, service.name)
    if pid is not None:
        # The child leads its own session (setsid), so its pid is also its process group's id.
        def kill(sig: int) -> None:
            try:
                (os.killpg if service.process_group else os.kill)(pid, sig)
            except ProcessLookupError:
                pass  # gone meanwhile

        def running() -> bool:
            _reap(pid)
            return bool(pid_of(run_dir, service.name)) or (service.process_group and _group_alive(pid))

        kill(signal.SIGTERM)
        deadline = time.monotonic() + (service.stop_timeout_s if grace_s is None else grace_s)
        while running() and time.monotonic() < deadline:
            time.sleep(0.1)
        if running():
            kill(signal.SIGKILL)
            while running():
                time.sleep(0.05)
    recorded = _recorded(run_dir, service.name)
    # Our child that has stopped (or died on its own) may still be exiting: wait for it briefly, no zombie.
    _reap(recorded["pid"] if recorded else None, wait_s=2.0)
    _pid_file(run_dir, service.name).unlink(missing_ok=True)
    return pid is not None


def _reap(pid: int | None, wait_s: float = 0.0) -> bool:
    """Collect the exit status of `pid` if it is a child of this process that has exited, waiting up to
    `wait_s` for it to (no zombie left); whether it did. False for a child still running then and for a
    process that is not our child."""
    deadline = time.monotonic() + wait_s
    while pid is not None:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return False
