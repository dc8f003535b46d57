"""Loading model versions from the blob store into an in-process segmenter.

A version registered from a card (`segmad models add NAME --card FILE`) keeps the card and the run's
label space in its catalog row (metrics "card", "run_classes") and its artefact in the blob store:
a TorchScript or ONNX file, or a Python model's state dict. A zoo version keeps a bare state dict
and its architecture; C (foreground classes) comes from its metrics (`num_classes`) when its
publisher recorded it, else from the worker's setting (SEGMAD_NUM_CLASSES).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from segmad.catalog.records import ModelVersion
from segmad.ports import Ports
from segmad.ports.segmenter import ModelRef

if TYPE_CHECKING:  # imported where a model is loaded: a worker whose models TorchServe runs never loads torch
    import torch

    from segmad.cards.runner import CardModel


def _version(ports: Ports, ref: ModelRef) -> ModelVersion:
    version = ports.catalog.model_version(ref.name, ref.version)
    if version is None:
        raise LookupError(f"model {ref.name} version {ref.version} is not registered in the catalog")
    return version


def is_card(version: ModelVersion) -> bool:
    """Whether a version was registered from a card (else it is a zoo checkpoint)."""
    return "card" in version.metrics


def ensure_loaded(ports: Ports, ref: ModelRef, num_classes: int) -> int:
    """Register `ref` in an in-process segmenter from the blob store unless it is already served; its C."""
    version = _version(ports, ref)
    num_classes = int(version.metrics.get("num_classes", num_classes))
    segmenter = ports.segmenter
    if not segmenter.in_process or ref in segmenter.models():
        return num_classes  # a remote segmenter serves what was published to it
    if version.arch == "imported":  # maps made elsewhere (segmad predictions import): nothing to run
        return num_classes
    if is_card(version):
        segmenter.register(ref.name, ref.version, load_card_version(ports, ref))
    else:
        segmenter.register(ref.name, ref.version, load_module(ports, ref, num_classes))
    return num_classes


def load_card_version(ports: Ports, ref: ModelRef) -> CardModel:
    """A card-registered version, ready to predict (its artefact read from the blob store)."""
    from segmad.cards.card import parse_card
    from segmad.cards.labels import LabelSpace
    from segmad.cards.runner import CardModel

    version = _version(ports, ref)
    card = parse_card(version.metrics["card"], stored=True)
    return CardModel(card, LabelSpace(tuple(version.metrics["run_classes"])), ports.blobs.get(version.blob_key))


def load_module(ports: Ports, ref: ModelRef, num_classes: int) -> torch.nn.Module:
    """A catalogued version's torch module in eval mode: a zoo network from its checkpoint, or a card's module."""
    import torch

    from segmad.models import build

    version = _version(ports, ref)
    if is_card(version):
        module = load_card_version(ports, ref).module
        if module is None:
            raise LookupError(f"{ref.name}@{ref.version} is an ONNX model: segmad cannot fine-tune it")
        return module
    state = torch.load(io.BytesIO(ports.blobs.get(version.blob_key)), map_location="cpu", weights_only=True)
    module = build(version.arch, int(version.metrics.get("num_classes", num_classes)))
    module.load_state_dict(state)
    return module.eval()
