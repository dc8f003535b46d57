"""Small models that cards in the tests build by entry point (`tests.unit.card_models:NAME`)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import torch
from torch import nn

from segmad.models import build

ZOO_INPUT = {"pad_to_multiple": 16, "scale": 1, "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375]}


class Quarter(nn.Module):
    """A SegFormer-like head: scores at a quarter of the input's size, inside a dict under "logits"."""

    def __init__(self, num_classes: int = 4):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, num_classes, 3, stride=2, padding=1))

    def forward(self, x):
        return {"logits": self.body(x)}


def quarter(num_classes: int = 4, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return Quarter(num_classes)


class Channel(nn.Module):
    """Full-resolution logits that pick, per pixel, class 0 where red > green, class `other` elsewhere."""

    def __init__(self, num_classes: int, other: int):
        super().__init__()
        self.num_classes, self.other = num_classes, other

    def forward(self, x):
        n, _, h, w = x.shape
        scores = torch.zeros(n, self.num_classes, h, w)
        red_wins = x[:, 0] > x[:, 1]
        scores[:, 0][red_wins] = 10.0
        scores[:, self.other][~red_wins] = 10.0
        return scores


def channel(num_classes: int = 4, other: int = 1) -> nn.Module:
    return Channel(num_classes, other)


def red_logit():
    """One channel: the logit of "red" (the second of two classes), positive where red > green."""
    return lambda x: (x[:, :1] - x[:, 1:2]) * 10.0


def red_probability():
    """One channel: the probability of "red"."""
    return lambda x: torch.sigmoid((x[:, :1] - x[:, 1:2]) * 10.0)


def from_file(model_path: str):
    """A callable that loads its own file (as a TFLite or ONNX wrapper does): the class it always answers."""
    with open(model_path) as handle:
        label = int(handle.read())
    return lambda x: torch.nn.functional.one_hot(torch.full(x.shape[:1] + x.shape[2:], label), 3).permute(0, 3, 1, 2) * 5.0


def flat_scores(num_classes: int = 3):
    """A plain callable (no torch module): rank-3 scores, which a card must refuse."""
    return lambda x: np.zeros((x.shape[0], num_classes, x.shape[2]))


def write_cards(folder, space) -> dict[str, str]:
    """Card files of a round's models over `space` (background + 3 classes); {name: card path}:
    a SegFormer target (python), TorchScript and ONNX zoo networks, and a model with more classes."""
    names = list(space.names)
    C = space.num_classes
    torch.manual_seed(0)
    fcn, unet = build("fcn8s", C).eval(), build("unet", C).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(fcn, torch.zeros(1, 3, 64, 64)), str(folder / "fcn8s.pt"))
        torch.onnx.export(unet, (torch.zeros(1, 3, 64, 64),), str(folder / "unet.onnx"), dynamo=False,
                          input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "logits": {0: "n", 2: "h", 3: "w"}})
    cards = {
        "segformer": {"role": "target", "format": "python", "entry": "segmad.cards.examples:segformer",
                      "kwargs": {"num_labels": C + 1, "hidden_sizes": [8, 16, 32, 64], "decoder_hidden_size": 32,
                                 "depths": [1, 1, 1, 1], "num_attention_heads": [1, 1, 2, 4]},
                      "preprocess": {"resize": {"policy": "fixed", "size": [64, 64]}},
                      "output": {"key": "logits"}, "classes": names},
        "fcn8s": {"role": "competitor", "format": "torchscript", "artefact": "fcn8s.pt", "classes": names,
                  "preprocess": ZOO_INPUT},
        "unet": {"role": "competitor", "format": "onnx", "artefact": "unet.onnx", "classes": names,
                 "output": {"key": "logits"}, "preprocess": ZOO_INPUT},
        # More classes than the run: "kite" and "moon" are not in it, "void" is its background.
        "wider": {"role": "competitor", "format": "python", "entry": "tests.unit.card_models:quarter",
                  "kwargs": {"num_classes": 6}, "output": {"key": "logits"},
                  "classes": ["void", "sun", "tile", "pyramid", "kite", "moon"], "label_map": {"void": "background"},
                  "preprocess": {"resize": {"policy": "shorter", "size": 40}, "pad_to_multiple": 4}},
    }
    paths = {}
    for name, card in cards.items():
        paths[name] = str(folder / f"{name}.json")
        (folder / f"{name}.json").write_text(json.dumps(card))
    return paths


class FailsOnWide(nn.Module):
    """Full-resolution logits of 4 classes, but a ValueError for inputs wider than 90 pixels."""

    def forward(self, x):
        if x.shape[-1] > 90:
            raise ValueError(f"cannot take a width of {x.shape[-1]}")
        return torch.zeros(x.shape[0], 4, *x.shape[2:])


def fails_on_wide() -> nn.Module:
    return FailsOnWide()
