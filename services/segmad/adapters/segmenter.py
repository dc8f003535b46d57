"""The segmenter's embedded adapter: torch modules in this process."""

from __future__ import annotations

import threading

import numpy as np
from torch import nn

from segmad.models.predict import predict, predict_with_entropy
from segmad.ports.segmenter import ModelRef, Segmenter, UnknownModel


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
