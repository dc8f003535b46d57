"""Model archives (.mar) for TorchServe: a TorchScript file, its sidecar spec and segmad's generic handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from segmad.errors import InputError


def torchserve_dir() -> Path:
    """deploy/torchserve (handler and config): SEGMAD_TORCHSERVE_DIR, else the checkout's own folder."""
    given = os.environ.get("SEGMAD_TORCHSERVE_DIR")
    return Path(given) if given else Path(__file__).resolve().parents[3] / "deploy" / "torchserve"


SIDECAR = "segmad_model.json"  # the name deploy/torchserve/segmad_handler.py reads
HANDLER = torchserve_dir() / "segmad_handler.py"


@dataclass(frozen=True)
class ModelSpec:
    """What the handler needs beside the module: input size (H, W), 0..1-scale mean/std, class names."""

    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_names: tuple[str, ...]


def build_mar(name: str, version: str, module_path: Path, spec: ModelSpec, export_dir: Path,
              handler: Path = HANDLER) -> Path:
    """Write export_dir/NAME-VERSION.mar (replacing one there) and return its path."""
    if not handler.exists():
        raise InputError(f"the TorchServe handler is missing: {handler}")
    export_dir.mkdir(parents=True, exist_ok=True)
    archive_name = f"{name}-{version}"
    with tempfile.TemporaryDirectory() as tmp:
        sidecar = Path(tmp) / SIDECAR
        sidecar.write_text(json.dumps(asdict(spec)))
        command = [sys.executable, "-m", "model_archiver.model_packaging", "--model-name", archive_name,
                   "--version", version, "--serialized-file", str(module_path), "--handler", str(handler),
                   "--extra-files", str(sidecar), "--export-path", str(export_dir), "--force"]
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(f"torch-model-archiver failed: {done.stderr.strip()[-500:]}")
    return export_dir / f"{archive_name}.mar"
