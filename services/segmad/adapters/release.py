"""The release port's embedded adapter: this process's segmenter."""

from __future__ import annotations

from torch import nn

from segmad.adapters.segmenter import TorchSegmenter
from segmad.ports.release import Release


class InProcessRelease(Release):
    """Registers each released module in one in-process segmenter (the embedded default)."""

    def __init__(self, segmenter: TorchSegmenter):
        self.segmenter = segmenter

    def release(self, name: str, version: str, module: nn.Module, arch: str, num_classes: int,
                input_size: int, class_names: list[str] | None = None) -> None:
        """Serve `module` as (name, version) in this process; the catalog says which version is the default."""
        self.segmenter.register(name, version, module)

    def release_card(self, name: str, version: str, card: dict, run_classes: list[str], artefact: bytes) -> None:
        """Serve the card's model as (name, version) in this process."""
        from segmad.cards.card import parse_card
        from segmad.cards.labels import LabelSpace
        from segmad.cards.runner import CardModel

        self.segmenter.register(name, version, CardModel(parse_card(card, stored=True), LabelSpace(tuple(run_classes)),
                                                         artefact or None))
