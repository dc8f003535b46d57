"""Small models for measuring and testing the streaming pipeline, catalogued as the workers expect them.

The trained zoo ($SEGMAD_DATA_DIR/zoo) when it holds the architectures; otherwise freshly built
ones whose BatchNorm statistics are set from world images. An untrained network in eval mode with
default statistics labels every pixel of every image with one class, so no image would ever fall in
a size-bounded subgroup; with statistics taken from the images its maps vary with the image, which
is all that measuring throughput and checking the selection contract need.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from segmad.catalog.records import ModelVersion
from segmad.models import build, to_input
from segmad.pipeline.keys import checkpoint_key
from segmad.zoo import store

TARGET_ARCH = "deeplabv3plus"
COMPETITOR_ARCHS = ("lraspp", "fcn8s")  # the two quickest of the zoo's other designs


@dataclass(frozen=True)
class PipelineModel:
    """A model version for the pipeline: its catalog name, architecture, role and network."""

    name: str
    arch: str
    role: str  # "target" or "competitor"
    module: nn.Module
    trained: bool


def calibrated(arch: str, num_classes: int, images: np.ndarray, seed: int = 0) -> nn.Module:
    """An untrained network whose BatchNorm statistics are those of `images` (N, H, W, 3); eval mode."""
    torch.manual_seed(seed)
    module = build(arch, num_classes)
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.reset_running_stats()
            layer.momentum = None  # a plain average over the calibration batch
    module.train()
    with torch.no_grad():
        module(to_input(images))
    return module.eval()


def pipeline_models(zoo_dir: Path, num_classes: int, images: np.ndarray, prefix: str = "") -> list[PipelineModel]:
    """Target first, then the competitors: zoo checkpoints where all are present with C = num_classes."""
    archs = [(TARGET_ARCH, "target")] + [(arch, "competitor") for arch in COMPETITOR_ARCHS]
    paths = [store.checkpoint_path(zoo_dir, arch) for arch, _ in archs]
    if all(p.exists() and store.read_meta(p)["num_classes"] == num_classes for p in paths):
        return [PipelineModel(f"{prefix}{arch if role == 'competitor' else 'target'}", arch, role,
                              store.load(path)[0], True) for (arch, role), path in zip(archs, paths)]
    return [PipelineModel(f"{prefix}{arch if role == 'competitor' else 'target'}", arch, role,
                          calibrated(arch, num_classes, images, seed), False)
            for seed, (arch, role) in enumerate(archs)]


def zoo_input_size(zoo_dir: Path) -> tuple[int, int] | None:
    """(C, input size) of the zoo's target checkpoint, or None without one."""
    path = store.checkpoint_path(zoo_dir, TARGET_ARCH)
    if not path.exists():
        return None
    meta = store.read_meta(path)
    return int(meta["num_classes"]), int(meta.get("input_size", 64))


def catalogue(ports, model: PipelineModel, num_classes: int, version: str = "1") -> None:
    """Store the model's weights as the workers load them, catalogue the version and make it the default."""
    buffer = io.BytesIO()
    torch.save(model.module.state_dict(), buffer)
    key = checkpoint_key(model.name, version)
    ports.blobs.put(key, buffer.getvalue())
    ports.catalog.add_model_version(ModelVersion(model.name, version, model.arch, model.role, key,
                                                 metrics={"num_classes": num_classes}))
    ports.catalog.set_default_version(model.name, version)


def zoo_checkpoint(model: PipelineModel, num_classes: int, input_size: int, path: Path) -> Path:
    """The model as a zoo checkpoint (what `segmad models publish --checkpoint` archives for TorchServe)."""
    store.save(path, model.module, {"arch": model.arch, "num_classes": num_classes, "input_size": input_size})
    return path
