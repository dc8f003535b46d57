"""Model archives (.mar) for TorchServe: a TorchScript file, its sidecar spec and segmad's generic handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from segmad.errors import InputError


def torchserve_dir() -> Path:
    """deploy/torchserve (handler and config): SEGMAD_TORCHSERVE_DIR, else the checkout's own folder."""
    given = os.environ.get("SEGMAD_TORCHSERVE_DIR")
    return Path(given) if given else Path(__file__).resolve().parents[3] / "deploy" / "torchserve"


SIDECAR = "segmad_model.json"  # the name deploy/torchserve/segmad_handler.py reads
CARD_SIDECAR = "segmad_card.json"  # a card's archive: {"card": {...}, "run_classes": [...]}
CARDS_BUNDLE = "segmad_cards.zip"  # segmad.cards' source, so TorchServe runs cards without segmad installed
HANDLER = torchserve_dir() / "segmad_handler.py"


@dataclass(frozen=True)
class ModelSpec:
    """What the handler needs beside the module: input size (H, W), 0..1-scale mean/std, class names."""

    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_names: tuple[str, ...]


def build_mar(name: str, version: str, module_path: Path, spec: ModelSpec, export_dir: Path,
              handler: Path = HANDLER) -> Path:
    """Write export_dir/NAME-VERSION.mar (replacing one there) and return its path."""
    with tempfile.TemporaryDirectory() as tmp:
        sidecar = Path(tmp) / SIDECAR
        sidecar.write_text(json.dumps(asdict(spec)))
        return _archive(name, version, module_path, [sidecar], export_dir, handler)


def _archive(name: str, version: str, serialized: Path, extra_files: list[Path], export_dir: Path,
             handler: Path) -> Path:
    """torch-model-archiver: export_dir/NAME-VERSION.mar of the serialized file, the handler and the extras."""
    if not handler.exists():
        raise InputError(f"the TorchServe handler is missing: {handler}")
    export_dir.mkdir(parents=True, exist_ok=True)
    archive_name = f"{name}-{version}"
    command = [sys.executable, "-m", "model_archiver.model_packaging", "--model-name", archive_name,
               "--version", version, "--serialized-file", str(serialized), "--handler", str(handler),
               "--extra-files", ",".join(map(str, extra_files)), "--export-path", str(export_dir), "--force"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(f"torch-model-archiver failed: {done.stderr.strip()[-500:]}")
    return export_dir / f"{archive_name}.mar"


def cards_bundle(out: Path) -> Path:
    """A zip of the modules that run a card (segmad.cards and what it imports), importable from the zip."""
    import zipfile

    package = Path(__file__).resolve().parents[1]  # services/segmad
    members = ["__init__.py", "errors.py", "scores.py"] + [f"cards/{p.name}" for p in sorted((package / "cards").glob("*.py"))]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for member in members:
            bundle.write(package / member, f"segmad/{member}")
    return out


CARD_SERIALIZED = "model.bin"  # a card's artefact in its archive, whatever its format


def card_files(card: dict, run_classes: list[str], artefact: bytes, folder: Path) -> tuple[Path, list[Path]]:
    """What a card's archive holds beside the handler, written into folder: (the artefact, [the card's
    sidecar, segmad.cards' bundle]). Unpacked into one folder, they are the model_dir the handler loads."""
    sidecar, model = folder / CARD_SIDECAR, folder / CARD_SERIALIZED
    sidecar.write_text(json.dumps({"card": card, "run_classes": list(run_classes)}))
    model.write_bytes(artefact)
    return model, [sidecar, cards_bundle(folder / CARDS_BUNDLE)]


def build_card_mar(name: str, version: str, card: dict, run_classes: list[str], artefact: bytes, export_dir: Path,
                   handler: Path = HANDLER) -> Path:
    """export_dir/NAME-VERSION.mar of a card's model: its artefact, the card, and segmad.cards to run it."""
    with tempfile.TemporaryDirectory() as tmp:
        model, extras = card_files(card, run_classes, artefact, Path(tmp))
        return _archive(name, version, model, extras, export_dir, handler)
