"""Archives of segmad zoo checkpoints: traced to TorchScript, with the spec the TorchServe handler reads."""

from __future__ import annotations

from pathlib import Path

from segmad.adapters.torchserve_archive import ModelSpec
from segmad.adapters.torchserve_release import script_module, segmad_spec
from segmad.zoo import store


def zoo_spec(meta: dict) -> ModelSpec:
    """The spec of a zoo checkpoint: its input size and class names, segmad's fixed mean/std."""
    return segmad_spec(int(meta.get("input_size", 64)), int(meta["num_classes"]), meta.get("class_names"))


def script_checkpoint(checkpoint: Path, out: Path) -> ModelSpec:
    """Trace a zoo checkpoint to TorchScript at out; its spec."""
    model, meta = store.load(checkpoint)
    spec = zoo_spec(meta)
    script_module(model, spec.input_size, out)
    return spec
