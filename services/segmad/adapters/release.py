"""The release port (a new model version made servable) and its embedded adapter (this process's segmenter)."""

from __future__ import annotations

import abc

from torch import nn

from segmad.adapters.segmenter import TorchSegmenter


class Release(abc.ABC):
    """Where a new model version goes to be served, so that the segmenter port predicts with it."""

    @abc.abstractmethod
    def release(self, name: str, version: str, module: nn.Module, arch: str, num_classes: int,
                input_size: int, class_names: list[str] | None = None) -> None:
        """Serve `module` as `version` of `name`, the default of its name where serving has one; twice does it once.

        `arch`, `num_classes`, `input_size` (square, pixels) and `class_names` (background first)
        describe the module to a server that loads it without segmad's code.
        """


class InProcessRelease(Release):
    """Registers each released module in one in-process segmenter (the embedded default)."""

    def __init__(self, segmenter: TorchSegmenter):
        self.segmenter = segmenter

    def release(self, name: str, version: str, module: nn.Module, arch: str, num_classes: int,
                input_size: int, class_names: list[str] | None = None) -> None:
        """Serve `module` as (name, version) in this process; the catalog says which version is the default."""
        self.segmenter.register(name, version, module)
