"""Releasing a fine-tuned target version to TorchServe: archive it, register it beside the old ones, make it default."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from torch import nn

from segmad import settings
from segmad.adapters.segmenter import ModelRef
from segmad.adapters.torchserve import TorchServeSegmenter
from segmad.bootstrap import Ports
from segmad.publish.management import Management
from segmad.publish.service import publish
from segmad.zoo import store


class Release(Protocol):
    """Where a new model version goes to be served."""

    def release(self, name: str, version: str, module: nn.Module, arch: str, num_classes: int,
                input_size: int, class_names: list[str] | None = None) -> None:
        """Serve `version` of `name` and make it the default; doing it twice does it once."""


@dataclass(frozen=True)
class TorchServeRelease:
    """TorchServe's management API and the model-store folder it loads archives from."""

    management: Management
    model_store: Path
    batch_size: int = 8
    max_batch_delay_ms: int = 20

    def release(self, name: str, version: str, module: nn.Module, arch: str, num_classes: int,
                input_size: int, class_names: list[str] | None = None) -> None:
        """Archive and register unless TorchServe has the version (a retried release), then set it default."""
        if ModelRef(name, version) not in self.management.models():
            with tempfile.TemporaryDirectory() as tmp:
                checkpoint = Path(tmp) / f"{name}-{version}.pt"
                meta = {"arch": arch, "num_classes": num_classes, "input_size": input_size}
                store.save(checkpoint, module, meta | ({"class_names": class_names} if class_names else {}))
                publish(self.management, self.model_store, name, version, checkpoint=checkpoint,
                        batch_size=self.batch_size, max_batch_delay_ms=self.max_batch_delay_ms)
        self.management.set_default(name, version)


def release_for(ports: Ports) -> Release | None:
    """TorchServe when the ports predict through it (SEGMAD_TORCHSERVE_URL), else None: in-process needs none."""
    if isinstance(ports.segmenter, TorchServeSegmenter):
        return TorchServeRelease(ports.segmenter.management, settings.load().model_store)
    return None
