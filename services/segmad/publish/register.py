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


def check_card_model(model) -> None:
    """Predict two probe images of different sizes; CardError (one line) when the model cannot serve a round."""
    import numpy as np

    from segmad.cards.card import CardError
    from segmad.cards.labels import brief

    if model.card.classes and not model.space.mapped(model.card.classes, model.card.label_map):
        raise CardError(f"none of the model's classes ({brief(model.card.classes)}) maps onto the run's "
                        f"label space ({', '.join(model.space.names)}): set label_map in the card, or SEGMAD_CLASSES")
    rng = np.random.default_rng(0)
    probes = [rng.integers(0, 256, (61, 97, 3), dtype=np.uint8), rng.integers(0, 256, (80, 64, 3), dtype=np.uint8)]
    try:
        maps, entropy = model.predict(probes)
    except CardError:
        raise
    except Exception as error:
        text = (str(error).strip() or type(error).__name__).splitlines()[0][:300]
        raise CardError(f"the model failed on a probe image: {type(error).__name__}: {text}") from error
    for probe, label_map in zip(probes, maps):
        if label_map.shape != probe.shape[:2]:
            raise CardError(f"the model's map for a {probe.shape[:2]} probe came back {label_map.shape}")


def stored_artefact(model) -> bytes:
    """What is stored of a card's model (a CardModel): the TorchScript or ONNX file itself, the file a Python
    entry loads itself, or a Python model's state dict (b"" for a plain callable, which its entry builds)."""
    card = model.card
    if card.format == "python" and not card.artefact_arg:
        if model.module is None:
            return b""
        buffer = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in model.module.state_dict().items()}, buffer)
        return buffer.getvalue()
    return card.artefact_path().read_bytes()


def add_card(ports: Ports, name: str, version: str, card_path: Path, role: str | None = None,
             make_default: bool = True, space=None) -> ModelVersion:
    """Register the model a card describes as NAME@VERSION: checked on probe images first, then its artefact
    in the blob store, the card and the run's label space in the catalog, served where the segmenter predicts.

    The stored artefact is the TorchScript or ONNX file itself, or a Python model's state dict (so a
    randomly initialised model is the same model in every process). Idempotent like register_model.
    """
    from segmad.cards.card import CardError, load_card
    from segmad.cards.labels import run_label_space
    from segmad.cards.runner import load_card_model
    from segmad.settings import load as load_settings

    card = load_card(Path(card_path))
    role = role or card.role
    if role not in ROLES:
        raise InputError("the model's role is target or competitor (--role, or role: in the card)")
    space = space or run_label_space(load_settings().num_classes)
    model = load_card_model(card, space)
    check_card_model(model)
    artefact = stored_artefact(model)
    arch = f"{card.format}:{card.entry or card.artefact_path().name}"[:120]
    known = ports.catalog.model_version(name, version)
    if known is not None and (known.arch != arch or known.role != role):
        raise InputError(f"{name}@{version} is already registered as a {known.role} ({known.arch})")
    stored = card.with_artefact(None).to_dict() | {"name": name, "role": role}
    if known is None:
        ports.blobs.put(checkpoint_key(name, version), artefact)
        ports.catalog.add_model_version(ModelVersion(name, version, arch, role, checkpoint_key(name, version), metrics={
            "num_classes": space.num_classes, "card": stored, "run_classes": list(space.names),
            "format": card.format, "classes": list(card.classes)}))
    try:
        ports.release.release_card(name, version, stored, list(space.names), artefact)
    except CardError:
        raise
    if make_default:
        ports.catalog.set_default_version(name, version)
    return ports.catalog.model_version(name, version)
