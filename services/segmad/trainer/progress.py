"""A round's training progress: one small JSON record in the blob store, read by `segmad round status`.

The record ({"round", "version", "phase", "lr", "current_lr", "step", "steps", "loss",
"t0_miou_by_lr", "error", "started_at", "updated_at", ...}) lives at rounds/<N>/training.json.
Phases: loading → fine-tuning → publishing → evaluating → done, or failed (with "error").
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Callable

from segmad.models.train import FinetuneStep
from segmad.ports import Ports

Listener = Callable[[dict], None]  # told every update (a service turns it into gauges)


def progress_key(round_: int) -> str:
    """Where round N's training progress is kept."""
    return f"rounds/{round_}/training.json"


def training_progress(ports: Ports, round_: int) -> dict | None:
    """Round N's last recorded training progress, or None if its training never started."""
    key = progress_key(round_)
    return json.loads(ports.blobs.get(key)) if ports.blobs.exists(key) else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ProgressReport:
    """Tells a listener every update and writes the record at each phase, each lr's end, and every `every_s`."""

    def __init__(self, ports: Ports, round_: int, version: str, listener: Listener | None = None,
                 every_s: float = 2.0):
        self.ports, self.listener, self.every_s = ports, listener, every_s
        self.record = {"round": round_, "version": version, "phase": "loading", "lr": None, "current_lr": None,
                       "step": 0, "steps": 0, "loss": None, "t0_miou_by_lr": {}, "error": None,
                       "started_at": _now(), "updated_at": _now()}
        self._written = float("-inf")
        self._update(write=True)

    def phase(self, phase: str, **fields) -> None:
        """Enter a phase (fields such as lr_grid or reused ride along)."""
        self.record.update(phase=phase, **fields)
        self._update(write=True)

    def step(self, s: FinetuneStep) -> None:
        """A fine-tuning step or an lr's T0 evaluation."""
        self.record.update(lr=s.lr, current_lr=s.current_lr, step=s.step, steps=s.steps, loss=s.loss)
        if s.t0_miou is not None:
            self.record["t0_miou_by_lr"][f"{s.lr:g}"] = s.t0_miou
        self._update(write=s.t0_miou is not None or time.monotonic() - self._written >= self.every_s)

    def failed(self, error: BaseException) -> None:
        """Record why training stopped (best effort: the store may be what failed)."""
        self.record.update(phase="failed", error=f"{type(error).__name__}: {error}")
        try:
            self._update(write=True)
        except Exception:  # the original error is the one worth raising
            pass

    def _update(self, write: bool) -> None:
        self.record["updated_at"] = _now()
        if self.listener is not None:
            self.listener(dict(self.record))
        if write:
            self.ports.blobs.put(progress_key(self.record["round"]), json.dumps(self.record).encode(),
                                 "application/json")
            self._written = time.monotonic()
