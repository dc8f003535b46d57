"""Checkpoints: a state_dict plus plain-typed metadata, written crash-safe, read with weights_only=True."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import torch
from torch import nn

from segmad.errors import InputError
from segmad.files import write_bytes_atomic
from segmad.models import ARCHITECTURES, build


def checkpoint_path(zoo_dir: Path, arch: str) -> Path:
    """Where the zoo keeps arch's checkpoint."""
    return Path(zoo_dir) / f"{arch}.pt"


def save(path: Path, model: nn.Module, meta: dict) -> None:
    """Write model's weights and meta (needs 'arch' and 'num_classes') to path atomically."""
    missing = {"arch", "num_classes"} - set(meta)
    if missing:
        raise ValueError(f"checkpoint meta lacks {sorted(missing)}")
    # A JSON round trip keeps meta to plain types, which weights_only loading accepts.
    plain = json.loads(json.dumps(meta))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()  # a checkpoint is a few MB: serialised whole, then written crash-safe
    torch.save({"format": "segmad-zoo/1", "meta": plain, "state_dict": state}, buffer)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())


def load(path: Path) -> tuple[nn.Module, dict]:
    """The model (eval mode, CPU) and metadata stored at path."""
    meta, state = _read(path)
    model = build(meta["arch"], meta["num_classes"])
    model.load_state_dict(state)
    return model.eval(), meta


def read_meta(path: Path) -> dict:
    """Only the metadata of the checkpoint at path."""
    return _read(path)[0]


def list_checkpoints(zoo_dir: Path) -> list[dict]:
    """Metadata of each architecture's checkpoint present in zoo_dir, in ARCHITECTURES order."""
    return [read_meta(p) for arch in ARCHITECTURES if (p := checkpoint_path(zoo_dir, arch)).exists()]


def summary(meta: dict) -> dict:
    """The fields of a checkpoint's metadata that zoo tables show."""
    return {k: meta.get(k) for k in ("arch", "role", "params", "train_seconds", "train_cpu_seconds", "t0_miou", "seed")}


def _is_torchscript(path: Path) -> bool:
    """Whether the file is a TorchScript archive: a zip holding the module's code/ and constants.pkl."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        inner = {name.partition("/")[2] for name in archive.namelist()}
    return "constants.pkl" in inner and any(name.startswith("code/") for name in inner)


def _read(path: Path) -> tuple[dict, dict]:
    if not Path(path).exists():
        raise InputError("no such checkpoint", path)
    if _is_torchscript(path):  # torch.load would warn, then refuse it with weights_only
        raise InputError("a TorchScript module, not a segmad zoo checkpoint: add it with a model card "
                         "(format: torchscript; `segmad models add NAME --card FILE`)", path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling errors vary by corruption; all mean "not a checkpoint"
        raise InputError(f"not a readable checkpoint ({type(error).__name__})", path) from error
    if not isinstance(blob, dict) or blob.get("format") != "segmad-zoo/1":
        raise InputError("not a segmad zoo checkpoint", path)
    return blob["meta"], blob["state_dict"]
