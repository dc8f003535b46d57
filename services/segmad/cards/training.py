"""Fine-tuning a card's model with segmad's recipe (models/train.py), which speaks the zoo's language.

The recipe feeds zoo-normalised (N, 3, H, W) batches and wants logits (N, C+1, H, W) in the run's
label space. `RunSpaceModule` wraps a card's torch module to do exactly that: it undoes the zoo's
normalisation and applies the card's (scale, mean/std, channel order, layout, resize, padding),
takes the card's output at any stride back to the input's size, and turns the model's classes
into the run's: the logit of run class c is the log-sum-exp of the model classes mapped onto it
(the log of their summed probability), so cross-entropy on the run's masks trains the model's own
classes. The recipe's softmax over these planes renormalises over the mapped classes, so model
classes mapped nowhere take no part (the run's masks say nothing about them). A run class no model
class maps onto gets a constant very low logit, and `trainable_masks` turns its pixels into 255
(ignore) before training. The trained weights go back into the same card as a new artefact.
"""

from __future__ import annotations

import io
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from segmad.cards.card import ModelCard
from segmad.cards.labels import LabelSpace, groups
from segmad.cards.runner import _select
from segmad.models.inputs import MEAN, STD

_ABSENT = -1e4  # the logit of a run class the model cannot predict


class RunSpaceModule(nn.Module):
    """A card's module as the zoo's training recipe sees it (zoo-normalised in, run-space logits out)."""

    def __init__(self, card: ModelCard, module: nn.Module, space: LabelSpace):
        super().__init__()
        self.card, self.inner = card, module
        pre = card.preprocess
        order = [2, 1, 0] if pre.channels == "bgr" else [0, 1, 2]
        self.order = order
        zoo_mean, zoo_std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
        mean = torch.tensor([pre.mean[i] for i in order], dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor([pre.std[i] for i in order], dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("zoo_mean", zoo_mean, persistent=False)
        self.register_buffer("zoo_std", zoo_std, persistent=False)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        table = space.lookup(card.classes, card.label_map)
        self.members = groups(table, len(card.classes), space.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        card, pre = self.card, self.card.preprocess
        height, width = x.shape[2:]
        raw = x * self.zoo_std + self.zoo_mean                              # 0..255 RGB
        y = ((raw[:, self.order] / pre.scale) - self.mean) / self.std
        h, w = pre.resize.target(height, width)
        if (h, w) != (height, width):
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        m = pre.pad_to_multiple
        y = F.pad(y, (0, -w % m, 0, -h % m))
        if pre.layout == "nhwc":
            y = y.permute(0, 2, 3, 1)
        scores = _select(self.inner(y), card.output.key)
        if card.output.layout == "nhwc":
            scores = scores.permute(0, 3, 1, 2)
        scores = scores.float()
        if scores.shape[1] == 1 and len(card.classes) == 2:  # one channel: the second class (as the runner)
            scores = torch.cat([1 - scores, scores], 1) if card.output.kind == "probabilities" \
                else torch.cat([torch.zeros_like(scores), scores], 1)
        padded = (h + -h % m, w + -w % m)
        if tuple(scores.shape[2:]) != padded:  # any stride: back to the padded input's size
            scores = F.interpolate(scores, size=padded, mode="bilinear", align_corners=False)
        scores = scores[:, :, :h, :w]
        log_p = scores.clamp_min(1e-12).log() if card.output.kind == "probabilities" else torch.log_softmax(scores, 1)
        if (h, w) != (height, width):
            log_p = F.interpolate(log_p, size=(height, width), mode="bilinear", align_corners=False)
        planes = [torch.logsumexp(log_p[:, members], dim=1) if members
                  else torch.full_like(log_p[:, 0], _ABSENT) for members in self.members]
        return torch.stack(planes, dim=1)


def trainable_masks(masks, module: "RunSpaceModule"):
    """Masks with the run classes the model cannot predict set to 255 (ignored by the loss)."""
    import numpy as np

    absent = [c for c, members in enumerate(module.members) if not members]
    if not absent:
        return masks
    return np.where(np.isin(masks, absent), np.uint8(255), masks).astype(np.uint8)


def artefact_of(card: ModelCard, module: nn.Module) -> bytes:
    """The bytes a new version of the card stores: a TorchScript file, or a Python model's state dict."""
    buffer = io.BytesIO()
    if card.format == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(module, buffer)
    else:
        torch.save({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, buffer)
    return buffer.getvalue()
