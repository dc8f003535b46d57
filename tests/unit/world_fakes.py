"""Fake zoo models for loop tests: they look up the true mask of each world image and plant failures.

A fake recovers the uint8 image from its normalised input, finds the image's true mask, and
predicts it — except on the images where it is told to fail, where it predicts all background.
A learnable bias keeps it trainable, so fine-tuning runs through the real recipe.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn

from segmad.models.inputs import MEAN, STD
from segmad.world import WorldConfig, sample


def image_hash(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


class TruthTable:
    """True masks of every image of some world splits, by pixel content."""

    def __init__(self, worlds_and_splits: list[tuple[WorldConfig, str, int]]):
        self.masks: dict[str, np.ndarray] = {}
        self.ids: dict[str, str] = {}
        for world, split, count in worlds_and_splits:
            for i in range(count):
                s = sample(world, split, i)
                key = image_hash(s.image)
                self.masks[key] = np.where(s.mask == 255, 0, s.mask).astype(np.int64)
                self.ids[key] = s.image_id


class PlantedModel(nn.Module):
    """Predicts the truth except on the image ids in `fails_on`, where it predicts background."""

    def __init__(self, table: TruthTable, num_classes: int, fails_on: set[str]):
        super().__init__()
        self.table, self.num_labels, self.fails_on = table, num_classes + 1, set(fails_on)
        self.bias = nn.Parameter(torch.zeros(self.num_labels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, C+1, H, W)
        images = np.rint(x.detach().float().numpy().transpose(0, 2, 3, 1) * STD + MEAN).clip(0, 255).astype(np.uint8)
        maps = []
        for image in images:
            key = image_hash(image)
            mask = self.table.masks.get(key)
            if mask is None or self.table.ids[key] in self.fails_on:
                mask = np.zeros(image.shape[:2], np.int64)
            maps.append(mask)
        one_hot = nn.functional.one_hot(torch.from_numpy(np.stack(maps)), self.num_labels).permute(0, 3, 1, 2)
        return one_hot.float() * 8.0 + self.bias
