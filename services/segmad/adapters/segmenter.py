"""The segmenter port and its embedded adapter (torch modules in this process)."""

from __future__ import annotations

import abc
import threading
from typing import NamedTuple, Sequence

import numpy as np
from torch import nn

from segmad.models.predict import predict, predict_with_entropy


class ModelRef(NamedTuple):
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


class TorchSegmenter(Segmenter):
    """Modules registered in-process (the embedded default); inference runs on the caller's thread."""

    def __init__(self, batch_size: int = 256):
        self.batch_size = batch_size
        self._modules: dict[ModelRef, nn.Module] = {}
        self._lock = threading.Lock()

    def register(self, name: str, version: str, module: nn.Module) -> None:
        """Serve `module` as (name, version), replacing any module registered there."""
        with self._lock:
            self._modules[ModelRef(name, str(version))] = module

    def models(self) -> list[ModelRef]:
        with self._lock:
            return sorted(self._modules)

    def _module(self, name: str, version: str) -> nn.Module:
        with self._lock:
            try:
                return self._modules[ModelRef(name, str(version))]
            except KeyError:
                raise UnknownModel(f"{name} version {version}") from None

    def predict(self, name: str, version: str, images: np.ndarray) -> np.ndarray:
        return predict(self._module(name, version), images, self.batch_size)

    def predict_with_entropy(self, name: str, version: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return predict_with_entropy(self._module(name, version), images, self.batch_size)
