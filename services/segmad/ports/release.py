"""The release port: a new model version made servable where the segmenter predicts."""

from __future__ import annotations

import abc

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is needed only by whoever hands a module over
    from torch import nn


class Release(abc.ABC):
    """Where a new model version goes to be served, so that the segmenter port predicts with it."""

    @abc.abstractmethod
    def release(self, name: str, version: str, module: nn.Module, arch: str, num_classes: int,
                input_size: int, class_names: list[str] | None = None) -> None:
        """Serve `module` as `version` of `name`, the default of its name where serving has one; twice does it once.

        `arch`, `num_classes`, `input_size` (square, pixels) and `class_names` (background first)
        describe the module to a server that loads it without segmad's code.
        """

    @abc.abstractmethod
    def release_card(self, name: str, version: str, card: dict, run_classes: list[str], artefact: bytes) -> None:
        """Serve a model described by a card (segmad.cards) as `version` of `name`, the default of its name.

        `card` is the card's mapping (its artefact field unset), `run_classes` the run's label space,
        `artefact` the TorchScript/ONNX file or the Python model's state dict (empty: none).
        """
