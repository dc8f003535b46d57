"""The segmenter's embedded adapter: models run in this process, through their cards (segmad.cards)."""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np
from torch import nn

from segmad.cards.runner import CardModel, module_model
from segmad.ports.segmenter import ModelRef, Segmenter, UnknownModel, as_answer


class TorchSegmenter(Segmenter):
    """Models registered in-process (the embedded default); inference runs on the caller's thread.

    A registered model is a CardModel (any card: TorchScript, ONNX, Python) or a bare zoo module,
    which is run with the zoo's own input arithmetic. Images may differ in size; each map comes back
    at its image's size, in the run's label space.
    """

    in_process = True

    def __init__(self, batch_size: int = 256):
        self.batch_size = batch_size
        self._models: dict[ModelRef, CardModel] = {}
        self._lock = threading.Lock()

    def register(self, name: str, version: str, model: nn.Module | CardModel) -> None:
        """Serve `model` as (name, version), replacing any model registered there."""
        if not isinstance(model, CardModel):
            model = module_model(model, batch_size=self.batch_size)
        with self._lock:
            self._models[ModelRef(name, str(version))] = model

    def models(self) -> list[ModelRef]:
        with self._lock:
            return sorted(self._models)

    def model(self, name: str, version: str) -> CardModel:
        """The registered model of (name, version); UnknownModel if none."""
        with self._lock:
            try:
                return self._models[ModelRef(name, str(version))]
            except KeyError:
                raise UnknownModel(f"{name} version {version}") from None

    def predict(self, name: str, version: str, images: np.ndarray | Sequence[np.ndarray]):
        return self.predict_with_entropy(name, version, images)[0]

    def predict_with_entropy(self, name: str, version: str, images: np.ndarray | Sequence[np.ndarray]):
        maps, entropy = self.model(name, version).predict(list(images))
        return as_answer(images, maps), entropy
