"""The one costly step of a cell: fine-tune the v0 target on a selection, score it on W and T0.

Runs in a worker process (or in the study's own, with one worker); it reads the world seed's
arrays from the shared file and the target from the zoo, so a task is a few numbers and paths.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import numpy as np
import torch

from segmad.models import TARGET_ARCH
from segmad.models.predict import confusion_matrix, miou_from_confusion, predict
from segmad.models.train import finetune
from segmad.trainer.training import finetune_config
from segmad.zoo import checkpoint_path, load


@dataclasses.dataclass(frozen=True)
class Task:
    """One fine-tune: the selection's indices into D and where its inputs are."""

    key: str
    chosen: tuple[int, ...]
    shared_path: str
    train_sets_path: str
    zoo_dir: str
    preset: str
    max_steps: int | None
    seed: int
    lr: float | None = None  # one lr instead of the preset's grid


def use_one_thread() -> None:
    """Every fine-tune runs on one torch thread: its weights are then the same in a worker or in process
    (oneDNN splits reductions by thread count), and two threads per process stall each other on 2 cores."""
    torch.set_num_threads(1)


@functools.lru_cache(maxsize=2)
def _arrays(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {name: data[name] for name in data.files if name != "header"}


def run_task(task: Task) -> dict:
    """The fine-tuned target's dataset mIoU on W, on W's shifted in-domain images and on T0."""
    started = time.perf_counter()
    data, sets = _arrays(task.shared_path), _arrays(task.train_sets_path)
    previous = torch.get_num_threads()
    use_one_thread()
    try:
        model, _ = load(checkpoint_path(Path(task.zoo_dir), TARGET_ARCH))
        recipe = dataclasses.replace(finetune_config(task.preset, task.max_steps), seed=task.seed)
        if task.lr is not None:
            recipe = dataclasses.replace(recipe, lr_grid=(task.lr,))
        chosen = np.asarray(task.chosen, dtype=np.int64)
        model, history = finetune(model, data["pool_images"][chosen], data["pool_masks"][chosen],
                                  sets["s0_images"], sets["s0_masks"], sets["t0_images"], sets["t0_masks"],
                                  recipe, progress=False)
        maps = predict(model, data["wild_images"])
    finally:
        torch.set_num_threads(previous)
    shifted = data["wild_shifted"]
    return {"key": task.key, "wild": miou_from_confusion(confusion_matrix(maps, data["wild_masks"])),
            "wild_shifted": miou_from_confusion(confusion_matrix(maps[shifted], data["wild_masks"][shifted])),
            "t0": float(history["t0_miou"]), "lr": history["lr"], "steps": history["steps"],
            "seconds": time.perf_counter() - started}
