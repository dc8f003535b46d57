"""Model archives (.mar) for TorchServe: a TorchScript module, its sidecar spec and segmad's handler."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from segmad.errors import InputError
from segmad.models import MEAN, STD
from segmad.publish import torchserve_dir
from segmad.zoo import store

SIDECAR = "segmad_model.json"  # the name deploy/torchserve/segmad_handler.py reads
HANDLER = torchserve_dir() / "segmad_handler.py"


@dataclass(frozen=True)
class ModelSpec:
    """What the handler needs beside the module: input size (H, W), 0..1-scale mean/std, class names."""

    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_names: tuple[str, ...]


def zoo_spec(meta: dict) -> ModelSpec:
    """The spec of a zoo checkpoint: its input size and class names, segmad's fixed mean/std."""
    size = int(meta.get("input_size", 64))
    names = meta.get("class_names") or ["background"] + [f"class_{i}" for i in range(1, int(meta["num_classes"]) + 1)]
    return ModelSpec((size, size), tuple(float(v) for v in MEAN / 255.0), tuple(float(v) for v in STD / 255.0),
                     tuple(names))


def script_checkpoint(checkpoint: Path, out: Path) -> ModelSpec:
    """Trace a zoo checkpoint to TorchScript at out; its spec."""
    model, meta = store.load(checkpoint)
    spec = zoo_spec(meta)
    example = torch.zeros(1, 3, *spec.input_size)
    # TorchScript is what TorchServe loads without segmad's source; torch marks it deprecated.
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.trace(model, example), str(out))
    return spec


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
