"""The release port over TorchServe: a segmad module traced to TorchScript, archived into the model store,
registered beside the older versions and made the default."""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from segmad.ports.release import Release
from segmad.ports.segmenter import ModelRef
from segmad.adapters.torchserve_archive import ModelSpec, build_card_mar, build_mar
from segmad.adapters.torchserve_management import Management
from segmad.cards.labels import default_class_names

if TYPE_CHECKING:  # torch is imported when a module is archived: the workers build this release and never do
    from torch import nn


def segmad_spec(input_size: int, num_classes: int, class_names: list[str] | None = None) -> ModelSpec:
    """The spec of a segmad model: square input, segmad's fixed mean/std, class names (default class-1..class-C)."""
    from segmad.models import MEAN, STD

    names = class_names or ["background", *default_class_names(num_classes)]
    return ModelSpec((input_size, input_size), tuple(float(v) for v in MEAN / 255.0),
                     tuple(float(v) for v in STD / 255.0), tuple(names))


def script_module(module: nn.Module, input_size: tuple[int, int], out: Path) -> None:
    """Trace an eval-mode module to TorchScript at out: what TorchServe loads without segmad's source."""
    import torch

    example = torch.zeros(1, 3, *input_size)
    # torch marks TorchScript deprecated; it is still what TorchServe 0.12 loads.
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.trace(module, example), str(out))


def archive_module(name: str, version: str, module: nn.Module, arch: str, num_classes: int, input_size: int,
                   class_names: list[str] | None, model_store: Path) -> Path:
    """model_store/NAME-VERSION.mar of a segmad module, traced from a fresh eval-mode copy of its weights."""
    from segmad.models import build

    copy = build(arch, num_classes)
    copy.load_state_dict(module.state_dict())
    spec = segmad_spec(input_size, num_classes, class_names)
    with tempfile.TemporaryDirectory() as tmp:
        scripted = Path(tmp) / "model.pt"
        script_module(copy.eval(), spec.input_size, scripted)
        return build_mar(name, version, scripted, spec, Path(model_store))


@dataclass(frozen=True)
class TorchServeRelease(Release):
    """TorchServe's management API and the model-store folder it loads archives from."""

    management: Management
    model_store: Path
    batch_size: int = 8
    max_batch_delay_ms: int = 20

    def release(self, name: str, version: str, module: nn.Module, arch: str, num_classes: int,
                input_size: int, class_names: list[str] | None = None) -> None:
        """Archive and register unless TorchServe has the version (a retried release), then set it default."""
        if ModelRef(name, version) not in self.management.models():
            mar = archive_module(name, version, module, arch, num_classes, input_size, class_names, self.model_store)
            self.management.register(name, mar.name, self.batch_size, self.max_batch_delay_ms)
        self.management.set_default(name, version)

    def release_card(self, name: str, version: str, card: dict, run_classes: list[str], artefact: bytes) -> None:
        """Archive the card's model with segmad.cards, register it unless TorchServe has it, make it the default."""
        if ModelRef(name, version) not in self.management.models():
            mar = build_card_mar(name, version, card, run_classes, artefact, Path(self.model_store))
            self.management.register(name, mar.name, self.batch_size, self.max_batch_delay_ms)
        self.management.set_default(name, version)
