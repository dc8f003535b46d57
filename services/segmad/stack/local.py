"""The local stack in one folder: config (ports, keys), data, logs, pid files and the env file for clients."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from segmad.stack import postgres
from segmad.stack.components import COMPONENTS, TIERS, StackConfig
from segmad.stack.process import Service, answers, free_ports, pid_of, port_open, start, stop

DEFAULT_ROOT = Path("var/stack")
# SeaweedFS opens a gRPC port at port + 10000 beside each of its ports.
GRPC_OFFSET = 10000
INFRA_ONLY = ("infra",)


class Stack:
    """The servers of COMPONENTS under `root`; nothing runs until `up`."""

    def __init__(self, root: str | os.PathLike = DEFAULT_ROOT):
        self.root = Path(root).resolve()
        self.run_dir, self.log_dir = self.root / "run", self.root / "logs"

    def _saved(self) -> dict:
        path = self.root / "stack.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _save(self, saved: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "stack.json"
        path.write_text(json.dumps(saved, indent=2))
        path.chmod(0o600)  # it holds the S3 secret

    def config(self) -> StackConfig:
        """The stack's settings: read from stack.json, or chosen now (free ports, keys) and saved there.

        A server added to COMPONENTS since the stack was first started gets free ports then.
        """
        saved = self._saved()
        names = [name for component in COMPONENTS for name in component.ports]
        ports = dict(saved.get("ports", {}))
        missing = [name for name in names if name not in ports]
        if saved and not missing:
            return StackConfig(self.root, ports, saved["s3_access_key"], saved["s3_secret_key"])
        taken = set(ports.values())
        fresh = [p for p in free_ports(len(missing) + len(taken), also_free=GRPC_OFFSET) if p not in taken]
        ports.update(zip(missing, fresh))
        cfg = StackConfig(
            root=self.root, ports=ports,
            s3_access_key=saved.get("s3_access_key") or os.environ.get("SEGMAD_S3_ACCESS_KEY")
            or "segmad" + secrets.token_hex(6),
            s3_secret_key=saved.get("s3_secret_key") or os.environ.get("SEGMAD_S3_SECRET_KEY")
            or secrets.token_urlsafe(24),
        )
        self._save({**saved, "ports": cfg.ports, "s3_access_key": cfg.s3_access_key,
                    "s3_secret_key": cfg.s3_secret_key})
        return cfg

    def tiers(self) -> tuple[str, ...]:
        """The tiers the last `up` started (all of them before the first)."""
        return tuple(self._saved().get("tiers", TIERS))

    def services(self, tiers: Sequence[str] = TIERS) -> list[Service]:
        """Every server of the given tiers, in start order."""
        cfg = self.config()
        return [component.make(cfg) for component in COMPONENTS if component.tier in tiers]

    def service(self, name: str) -> Service:
        """The server called `name`."""
        return next(s for s in self.services() if s.name == name)

    def up(self, say: Callable[[str], None] = lambda line: None, tiers: Sequence[str] = TIERS) -> dict[str, str]:
        """Start what is not running of `tiers` (infra, torchserve, services), write the env file; its settings.

        The env file is written before the segmad services start: they read the stack's settings from it.
        """
        unknown = set(tiers) - set(TIERS)
        if unknown or "infra" not in tiers:
            raise ValueError(f"tiers must include infra and be among {TIERS}, got {tuple(tiers)}")
        self.config()
        self._save({**self._saved(), "tiers": [t for t in TIERS if t in tiers]})
        settings: dict[str, str] = {}
        for tier in (t for t in TIERS if t in tiers):
            if tier == "services":
                self._migrate(settings)
            for service in self.services((tier,)):
                self._start(service, say)
            if tier == "infra":
                url, where = postgres.database_url()
                say(f"postgres: {where}" if url else f"postgres: none available ({where}); services use SQLite")
            settings = self.write_env(url, tiers)
        return settings

    def _migrate(self, settings: dict[str, str]) -> None:
        """Bring the services' catalog to the newest schema once, before they start (as Compose's migrate job)."""
        from segmad.bootstrap import catalog

        url = settings.get("SEGMAD_DATABASE_URL") or f"sqlite:///{self.root / 'data' / 'catalog.db'}"
        catalog(url).engine.dispose()

    def _start(self, service: Service, say: Callable[[str], None]) -> None:
        if pid_of(self.run_dir, service.name):
            say(f"{service.name}: already running at {service.address}")
            return
        if port_open(service.port):
            raise RuntimeError(f"{service.name}: port {service.port} is taken by another program")
        start(service, self.run_dir, self.log_dir)
        say(f"{service.name}: started at {service.address}")

    def down(self, say: Callable[[str], None] = lambda line: None, grace_s: float | None = None) -> None:
        """Stop every server (SIGTERM, then SIGKILL after its grace time), last started first; the data stays."""
        for service in reversed(self.services()):
            if stop(service, self.run_dir, grace_s):
                say(f"{service.name}: stopped")

    def status(self) -> list[dict]:
        """Per server: name, tier, state, pid and address; then PostgreSQL.

        State: running (its port answers, and its health URL where it has one), not answering, stopped,
        or skipped (its tier was left out of the last `up`, e.g. `--infra-only`).
        """
        rows, started = [], self.tiers()
        for component, service in zip(COMPONENTS, self.services()):
            pid = pid_of(self.run_dir, service.name)
            if pid is None:
                state = "stopped" if component.tier in started else "skipped"
            else:
                state = "running" if answers(service) else "not answering"
            rows.append({"name": service.name, "tier": component.tier, "state": state, "pid": pid,
                         "address": service.address})
        return rows + [{"tier": "infra", **postgres.status_row(self.read_env().get("SEGMAD_DATABASE_URL"))}]

    def write_env(self, database_url: str | None, tiers: Sequence[str] = TIERS) -> dict[str, str]:
        """var/stack/env: SEGMAD_* lines a shell can `source` for the servers of `tiers`; the settings written."""
        settings = {key: value for s in self.services(tiers) for key, value in s.exports.items()}
        if database_url:
            settings["SEGMAD_DATABASE_URL"] = database_url
        env = self.root / "env"
        self.root.mkdir(parents=True, exist_ok=True)
        env.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        env.chmod(0o600)
        return settings

    def read_env(self) -> dict[str, str]:
        """The settings of the env file ({} before the first `up`)."""
        env = self.root / "env"
        if not env.exists():
            return {}
        return dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
