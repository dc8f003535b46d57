"""Make a model version known to the rounds: checkpoint in the blob store, a row in the catalog, served.

`round start` mines only models the catalog knows (target and competitors, each with a default
version); the trainer fine-tunes the target from its stored checkpoint. The ports' release serves it
where their segmenter predicts (archived and registered in TorchServe when they predict through it).
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from segmad.catalog.records import ModelVersion
from segmad.errors import InputError
from segmad.ports import Ports
from segmad.pipeline.keys import checkpoint_key
from segmad.zoo import store

ROLES = ("target", "competitor")


def add_model(ports: Ports, name: str, version: str, checkpoint: Path, role: str, make_default: bool = True) -> ModelVersion:
    """Register a segmad checkpoint (`segmad zoo` format: weights + arch, num_classes) as NAME@VERSION.

    Doing it again with the same checkpoint changes nothing; a different model under a taken
    name and version is refused.
    """
    if not Path(checkpoint).is_file():
        raise InputError(f"no such checkpoint: {checkpoint}")
    module, meta = store.load(Path(checkpoint))
    return register_model(ports, name, version, module, meta["arch"], role, meta["num_classes"],
                          int(meta.get("input_size", 64)), meta.get("class_names"),
                          {"t0_miou": meta["t0_miou"]} if "t0_miou" in meta else {}, make_default)


def register_model(ports: Ports, name: str, version: str, module: nn.Module, arch: str, role: str, num_classes: int,
                   input_size: int = 64, class_names: list[str] | None = None, metrics: dict | None = None,
                   make_default: bool = True) -> ModelVersion:
    """Store a module's weights, catalogue it as NAME@VERSION, serve it (the ports' release); idempotent."""
    if role not in ROLES:
        raise InputError(f"--role is one of {', '.join(ROLES)}")
    known = ports.catalog.model_version(name, version)
    if known is not None and (known.arch != arch or known.role != role):
        raise InputError(f"{name}@{version} is already registered as a {known.role} ({known.arch})")
    if known is None:
        buffer = io.BytesIO()
        torch.save(module.state_dict(), buffer)
        ports.blobs.put(checkpoint_key(name, version), buffer.getvalue())
        ports.catalog.add_model_version(ModelVersion(name, version, arch, role, checkpoint_key(name, version),
                                                     metrics={"num_classes": num_classes} | (metrics or {})))
    ports.release.release(name, version, module, arch, num_classes, input_size, class_names)
    if make_default:
        ports.catalog.set_default_version(name, version)
    return ports.catalog.model_version(name, version)
