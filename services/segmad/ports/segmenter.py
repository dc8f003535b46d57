"""The segmenter port: named, versioned models that turn images into label maps."""

from __future__ import annotations

import abc
from typing import NamedTuple, Sequence

import numpy as np

class ModelRef(NamedTuple):
    """A model version: (name, version)."""

    name: str
    version: str


class UnknownModel(KeyError):
    """No model registered under that name and version."""


class Segmenter(abc.ABC):
    """Named, versioned segmentation models that turn images into label maps."""

    @abc.abstractmethod
    def models(self) -> list[ModelRef]:
        """Every registered (name, version), sorted."""

    @abc.abstractmethod
    def predict(self, name: str, version: str, images: np.ndarray) -> np.ndarray:
        """uint8 label maps (N, H, W) of uint8 images (N, H, W, 3); UnknownModel if not registered."""

    @abc.abstractmethod
    def predict_with_entropy(self, name: str, version: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Label maps (N, H, W) and each image's mean per-pixel softmax entropy in nats (N,)."""

    def predict_many(self, requests: Sequence[tuple[ModelRef, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """predict_with_entropy of each (model version, images), in order; an adapter may serve them at once."""
        return [self.predict_with_entropy(ref.name, ref.version, images) for ref, images in requests]

    def close(self) -> None:
        """Release connections or pools the adapter holds (none by default)."""
