"""The local stack in one folder: config (ports, keys), data, logs, pid files and the env file for clients."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from segmad.stack import postgres
from segmad.stack.components import COMPONENTS, StackConfig
from segmad.stack.process import Service, free_ports, pid_of, port_open, start, stop

DEFAULT_ROOT = Path("var/stack")
# SeaweedFS opens a gRPC port at port + 10000 beside each of its ports.
GRPC_OFFSET = 10000


class Stack:
    """The servers of COMPONENTS under `root`; nothing runs until `up`."""

    def __init__(self, root: str | os.PathLike = DEFAULT_ROOT):
        self.root = Path(root).resolve()
        self.run_dir, self.log_dir = self.root / "run", self.root / "logs"

    def config(self) -> StackConfig:
        """The stack's settings: read from stack.json, or chosen now (free ports, keys) and saved there."""
        path = self.root / "stack.json"
        if path.exists():
            saved = json.loads(path.read_text())
            return StackConfig(self.root, saved["ports"], saved["s3_access_key"], saved["s3_secret_key"])
        names = [name for _, port_names in COMPONENTS for name in port_names]
        cfg = StackConfig(
            root=self.root,
            ports=dict(zip(names, free_ports(len(names), also_free=GRPC_OFFSET))),
            s3_access_key=os.environ.get("SEGMAD_S3_ACCESS_KEY") or "segmad" + secrets.token_hex(6),
            s3_secret_key=os.environ.get("SEGMAD_S3_SECRET_KEY") or secrets.token_urlsafe(24),
        )
        self.root.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"ports": cfg.ports, "s3_access_key": cfg.s3_access_key,
                                    "s3_secret_key": cfg.s3_secret_key}, indent=2))
        path.chmod(0o600)  # it holds the S3 secret
        return cfg

    def services(self) -> list[Service]:
        """Every server, in start order."""
        cfg = self.config()
        return [make(cfg) for make, _ in COMPONENTS]

    def service(self, name: str) -> Service:
        """The server called `name`."""
        return next(s for s in self.services() if s.name == name)

    def up(self, say: Callable[[str], None] = lambda line: None) -> dict[str, str]:
        """Start what is not running, write the env file; the settings it holds."""
        for service in self.services():
            if pid_of(self.run_dir, service.name):
                say(f"{service.name}: already running at {service.address}")
                continue
            if port_open(service.port):
                raise RuntimeError(f"{service.name}: port {service.port} is taken by another program")
            start(service, self.run_dir, self.log_dir)
            say(f"{service.name}: started at {service.address}")
        url, where = postgres.database_url()
        say(f"postgres: {where}" if url else f"postgres: none available ({where})")
        return self.write_env(url)

    def down(self, say: Callable[[str], None] = lambda line: None, grace_s: float | None = None) -> None:
        """Stop every server, last started first; the data stays."""
        for service in reversed(self.services()):
            if stop(service, self.run_dir, grace_s):
                say(f"{service.name}: stopped")

    def status(self) -> list[dict]:
        """Per server: name, state (running / not answering / stopped), pid and address; then PostgreSQL."""
        rows = []
        for service in self.services():
            pid = pid_of(self.run_dir, service.name)
            state = "stopped" if pid is None else "running" if port_open(service.port) else "not answering"
            rows.append({"name": service.name, "state": state, "pid": pid, "address": service.address})
        return rows + [postgres.status_row(self.read_env().get("SEGMAD_DATABASE_URL"))]

    def write_env(self, database_url: str | None) -> dict[str, str]:
        """var/stack/env: SEGMAD_* lines a shell can `source`; the settings written."""
        settings = {key: value for s in self.services() for key, value in s.exports.items()}
        if database_url:
            settings["SEGMAD_DATABASE_URL"] = database_url
        env = self.root / "env"
        env.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        env.chmod(0o600)
        return settings

    def read_env(self) -> dict[str, str]:
        """The settings of the env file ({} before the first `up`)."""
        env = self.root / "env"
        if not env.exists():
            return {}
        return dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
