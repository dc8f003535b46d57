"""A card's training hook: for a model segmad cannot fine-tune (ONNX) or a team that trains elsewhere.

The card names a command, `train: {command: "python train.py --data {data} --init {init} --out {out}"}`.
segmad writes a folder in VOC layout with S ∪ S0 (ImageSets/Segmentation/train.txt) and T0
(val.txt), the masks in the model's own class indices (`class_names.txt`, 255 = ignore), writes the
parent version's artefact to {init}, runs the command (in that folder, its output into the trainer's
log), then checks what it wrote to {out} by predicting probe images with the same card, and only then
registers it as the round's new version.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from segmad.cards.card import ModelCard
from segmad.cards.labels import LabelSpace
from segmad.codec import encode_png
from segmad.errors import InputError

log = logging.getLogger("segmad.trainer")
TIMEOUT_S = 24 * 3600


def model_masks_table(card: ModelCard, space: LabelSpace) -> np.ndarray:
    """256-entry table: run label -> the model's own label (the first model class mapped onto it; 255 if none)."""
    forward = space.lookup(card.classes, card.label_map)
    table = np.full(256, 255, dtype=np.uint8)
    for model_label in range(len(card.classes) - 1, -1, -1):  # backwards: the first one mapped wins
        if forward[model_label] != 255:
            table[forward[model_label]] = model_label
    return table


def write_voc(folder: Path, splits: dict[str, list[tuple[str, np.ndarray, np.ndarray]]], table: np.ndarray,
              class_names: list[str]) -> None:
    """folder/{JPEGImages,SegmentationClass,ImageSets/Segmentation/<split>.txt,class_names.txt}."""
    (folder / "JPEGImages").mkdir(parents=True)
    (folder / "SegmentationClass").mkdir()
    (folder / "ImageSets" / "Segmentation").mkdir(parents=True)
    for split, items in splits.items():
        for image_id, image, mask in items:
            Image.fromarray(image).save(folder / "JPEGImages" / f"{image_id}.jpg", quality=95)
            (folder / "SegmentationClass" / f"{image_id}.png").write_bytes(encode_png(table[mask]))
        (folder / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("".join(f"{i}\n" for i, _, _ in items))
    (folder / "class_names.txt").write_text("".join(f"{name}\n" for name in class_names))


def run_hook(card: ModelCard, space: LabelSpace, parent_artefact: bytes,
             splits: dict[str, list[tuple[str, np.ndarray, np.ndarray]]]) -> bytes:
    """The new artefact the card's command writes from the parent's and the VOC folder; InputError if it fails."""
    command = card.train.command
    if not command:
        raise InputError("the card names no train.command")
    with tempfile.TemporaryDirectory(prefix="segmad-hook-") as tmp:
        root = Path(tmp)
        data, init = root / "data", root / f"init{_suffix(card)}"
        out = root / f"out{_suffix(card)}"
        write_voc(data, splits, model_masks_table(card, space), list(card.classes))
        init.write_bytes(parent_artefact)
        argv = [part.format(data=data, init=init, out=out) for part in shlex.split(command)]
        log.info("training hook", extra={"command": argv})
        try:
            done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise InputError(f"the training hook could not run: {error}") from error
        for line in (done.stdout + done.stderr).splitlines()[-50:]:
            log.info("hook: %s", line)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1][:300]
            raise InputError(f"the training hook exited with status {done.returncode}: {last}")
        if not out.is_file() or out.stat().st_size == 0:
            raise InputError(f"the training hook wrote nothing to {{out}} ({out.name})")
        return out.read_bytes()


def _suffix(card: ModelCard) -> str:
    return {"onnx": ".onnx", "torchscript": ".pt"}.get(card.format, ".pt")
