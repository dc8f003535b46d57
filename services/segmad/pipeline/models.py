"""Loading model versions from their checkpoints in the blob store into an in-process segmenter.

C (foreground classes) is needed to build a network before its weights load. It comes from the
model version's metrics (`num_classes`) when its publisher recorded it, else from the worker's
setting (SEGMAD_NUM_CLASSES, default the synthetic world's C): a checkpoint of a bare state_dict
does not say it in one place every architecture shares.
"""

from __future__ import annotations

import io

import torch

from segmad.adapters.segmenter import TorchSegmenter

from segmad.ports.segmenter import ModelRef
from segmad.models import build
from segmad.ports import Ports


def ensure_loaded(ports: Ports, ref: ModelRef, num_classes: int) -> int:
    """Register `ref` in an in-process segmenter from its checkpoint unless it is already served; its C."""
    version = ports.catalog.model_version(ref.name, ref.version)
    if version is None:
        raise LookupError(f"model {ref.name} version {ref.version} is not registered in the catalog")
    num_classes = int(version.metrics.get("num_classes", num_classes))
    segmenter = ports.segmenter
    if not isinstance(segmenter, TorchSegmenter) or ref in segmenter.models():
        return num_classes  # a remote segmenter serves what was published to it
    segmenter.register(ref.name, ref.version, load_module(ports, ref, num_classes))
    return num_classes


def load_module(ports: Ports, ref: ModelRef, num_classes: int) -> torch.nn.Module:
    """A catalogued model version built from its stored checkpoint, in eval mode."""
    version = ports.catalog.model_version(ref.name, ref.version)
    if version is None:
        raise LookupError(f"model {ref.name} version {ref.version} is not registered in the catalog")
    state = torch.load(io.BytesIO(ports.blobs.get(version.blob_key)), map_location="cpu", weights_only=True)
    module = build(version.arch, int(version.metrics.get("num_classes", num_classes)))
    module.load_state_dict(state)
    return module.eval()
