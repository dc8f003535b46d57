"""Every zoo checkpoint as a model card beside it, which `segmad models add NAME --card` takes like any team's.

The card runs the checkpoint exactly as the zoo predicts (models/predict.py, cards/runner.module_model):
the image at its own size, the zoo's fixed MEAN/STD on the 0..255 scale (scale 1), zero-padded bottom
and right to a multiple of 16, logits out in the world's classes (the checkpoint's `class_names`). Its
artefact is the checkpoint file itself, named relative to the card so the folder can move; the entry
`from_checkpoint` loads it by path (`artefact_arg`), since a zoo checkpoint is not a bare state dict.
A version the trainer fine-tunes from the card stores a bare state dict in its place
(cards/training.artefact_of), which the same entry loads into the arch the card's kwargs name.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from segmad.cards.card import ModelCard, Output, Preprocess, Resize, parse_card
from segmad.files import write_text_atomic
from segmad.models import ARCHITECTURES, INPUT_MULTIPLE, MEAN, STD, build
from segmad.world import CLASS_NAMES
from segmad.zoo.recipes import ZOO_ROLES
from segmad.zoo.store import checkpoint_path, read_meta

ENTRY = "segmad.zoo.cards:from_checkpoint"


def card_path(zoo_dir: Path, arch: str) -> Path:
    """Where the zoo keeps arch's card: beside its checkpoint."""
    return Path(zoo_dir) / f"{arch}.card.json"


def zoo_card(meta: dict, artefact: str) -> ModelCard:
    """The card of a checkpoint with metadata `meta` stored at `artefact` (relative to the card's folder)."""
    arch, num_classes = meta["arch"], int(meta["num_classes"])
    classes = meta.get("class_names") or list(CLASS_NAMES[: num_classes + 1])  # older checkpoints: the world's
    role = ZOO_ROLES[arch]
    # MEAN/STD are float32 on the 0..255 scale; float() keeps each value exact through JSON, and the
    # runner's float32 arithmetic (x - mean) / std is then the zoo's own to the last bit.
    preprocess = Preprocess(Resize("keep"), INPUT_MULTIPLE, tuple(float(v) for v in MEAN),
                            tuple(float(v) for v in STD), scale=1.0, channels="rgb", layout="nchw")
    return ModelCard(format="python", classes=tuple(classes), name="target" if role == "target" else arch,
                     role=role, artefact=artefact, entry=ENTRY, kwargs={"arch": arch, "num_classes": num_classes},
                     artefact_arg="checkpoint", preprocess=preprocess, output=Output(None, "logits", "nchw"))


def write_card(zoo_dir: Path, arch: str) -> Path:
    """Write <zoo_dir>/<arch>.card.json for the checkpoint <zoo_dir>/<arch>.pt (unless it says so already); its path."""
    checkpoint = checkpoint_path(zoo_dir, arch)
    data = zoo_card(read_meta(checkpoint), checkpoint.name).to_dict()
    parse_card(data)  # a card segmad cannot read back is never written
    path, text = card_path(zoo_dir, arch), json.dumps(data, indent=2) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:  # a zoo kept as it is stays untouched
        write_text_atomic(path, text)
    return path


def write_missing_cards(zoo_dir: Path) -> list[Path]:
    """Cards for the checkpoints in zoo_dir that have none, in ARCHITECTURES order; the paths written."""
    return [write_card(zoo_dir, arch) for arch in ARCHITECTURES
            if checkpoint_path(zoo_dir, arch).exists() and not card_path(zoo_dir, arch).exists()]


def from_checkpoint(checkpoint: str, arch: str, num_classes: int) -> nn.Module:
    """The arch's network with the weights in `checkpoint`: a zoo checkpoint, or a fine-tuned version's state dict."""
    blob = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if isinstance(blob, dict) and blob.get("format") == "segmad-zoo/1":
        meta = blob["meta"]
        if (meta.get("arch"), int(meta.get("num_classes", -1))) != (arch, int(num_classes)):
            raise ValueError(f"the checkpoint holds {meta.get('arch')} with {meta.get('num_classes')} classes, "
                             f"the card says {arch} with {num_classes}")
        blob = blob["state_dict"]
    model = build(arch, int(num_classes))
    model.load_state_dict(blob)
    return model.eval()
