"""Publish a model version: archive it into TorchServe's model store, register it, optionally make it default."""

from __future__ import annotations

import tempfile
from pathlib import Path

from segmad.adapters.torchserve_archive import ModelSpec, build_mar
from segmad.adapters.torchserve_management import Management
from segmad.publish.archive import script_checkpoint


def next_version(management: Management, name: str) -> str:
    """One more than the highest integer version registered under name ("1" for a new name)."""
    numbers = [int(ref.version) for ref in management.models() if ref.name == name and ref.version.isdigit()]
    return str(max(numbers, default=0) + 1)


def publish(management: Management, model_store: Path, name: str, version: str, *,
            checkpoint: Path | None = None, torchscript: Path | None = None, spec: ModelSpec | None = None,
            batch_size: int = 8, max_batch_delay_ms: int = 20, workers: int = 1, make_default: bool = False) -> Path:
    """Archive a zoo checkpoint (traced to TorchScript) or a TorchScript module with its spec; the .mar path."""
    with tempfile.TemporaryDirectory() as tmp:
        if checkpoint is not None:
            torchscript = Path(tmp) / "model.pt"
            spec = script_checkpoint(checkpoint, torchscript)
        if torchscript is None or spec is None:
            raise ValueError("publish needs a checkpoint, or a TorchScript module and its spec")
        mar = build_mar(name, version, torchscript, spec, Path(model_store))
    management.register(name, mar.name, batch_size, max_batch_delay_ms, workers)
    if make_default:
        management.set_default(name, version)
    return mar
