"""What every selector and fine-tune of one world seed reads, predicted once and kept on disk.

The selectors see D only through these arrays: the v0 target's entropy, its distance to each
competitor with both maps' class fractions (all that mining reads), and the truth a simulated
person or an oracle knows (the target's true per-image mIoU, in-domain flags). The fine-tunes read
the images and true masks of D and W from the same file.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from segmad.mad import SizeBounds, class_fractions, discrepancy, label_counts, size_bounds
from segmad.models import COMPETITOR_ARCHS, TARGET_ARCH
from segmad.models.predict import confusion_matrix, miou_from_confusion, predict, predict_with_entropy
from segmad.world import WorldConfig, samples


@dataclass
class Shared:
    """One world seed's predictions and truth over D, and the v0 target's scores (W, shifted W, T0)."""

    seed: int
    ids: list[str]                   # D's image ids, in index order
    in_domain: np.ndarray            # (N,) bool
    true_miou: np.ndarray            # (N,) the v0 target's mIoU against the true mask
    entropy: np.ndarray              # (N,) the v0 target's mean pixel entropy
    distances: np.ndarray            # (m, N) d(f_t(x), g_j(x))
    target_fractions: np.ndarray     # (N, C+1)
    competitor_fractions: np.ndarray  # (m, N, C+1)
    competitors: tuple[str, ...]
    bounds: SizeBounds
    v0: dict                         # {"wild", "wild_shifted", "t0"}: the v0 target's dataset mIoU

    def failures(self, threshold: float) -> np.ndarray:
        """True failures: in-domain images whose true target mIoU is below the threshold."""
        return self.in_domain & (self.true_miou < threshold)


def wild_world(train_world: WorldConfig, seed: int, pool_size: int, wild_size: int, pool_scenes: int) -> WorldConfig:
    """The world D and W are drawn from: the zoo's world with the study's seed, sizes and redundancy."""
    return dataclasses.replace(train_world, seed=seed, pool_size=pool_size, wild_size=wild_size,
                               pool_scenes=pool_scenes)


def split_arrays(world: WorldConfig, split: str, count: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Images, true masks and the samples' (id, shifts, in_domain) of the first `count` of a split, rendered once."""
    images = np.empty((count, world.size, world.size, 3), np.uint8)
    masks = np.empty((count, world.size, world.size), np.uint8)
    meta = []
    for row, one in enumerate(samples(world, split, 0, count)):
        images[row], masks[row] = one.image, one.mask
        meta.append((one.image_id, one.shifts, one.in_domain))
    return images, masks, meta


def compute(zoo: dict[str, nn.Module], world: WorldConfig, s0_masks: np.ndarray,
            t0: tuple[np.ndarray, np.ndarray], batch_size: int = 256) -> tuple[Shared, dict[str, np.ndarray]]:
    """Predict D and W once with every zoo model; the Shared view and the arrays the fine-tunes need."""
    C = world.num_classes
    images, masks, meta = split_arrays(world, "pool", world.pool_size)
    wild_images, wild_masks, wild_meta = split_arrays(world, "wild", world.wild_size)
    target = zoo[TARGET_ARCH]
    maps, entropy = predict_with_entropy(target, images, batch_size)
    counts = [label_counts(m) for m in maps]
    true_miou = np.array([1.0 - discrepancy(p, t, c) for p, t, c in zip(maps, masks, counts)])
    target_fractions = np.stack([c[: C + 1] / p.size for c, p in zip(counts, maps)])
    competitors = tuple(a for a in COMPETITOR_ARCHS if a in zoo)
    distances = np.zeros((len(competitors), len(images)))
    competitor_fractions = np.zeros((len(competitors), len(images), C + 1))
    for j, arch in enumerate(competitors):
        for i, other in enumerate(predict(zoo[arch], images, batch_size)):
            other_counts = label_counts(other)
            distances[j, i] = discrepancy(maps[i], other, counts[i], other_counts)
            competitor_fractions[j, i] = other_counts[: C + 1] / other.size
    wild_shifted = np.array([bool(shifts) and in_domain for _, shifts, in_domain in wild_meta])
    wild_maps = predict(target, wild_images, batch_size)
    v0 = {"wild": miou_from_confusion(confusion_matrix(wild_maps, wild_masks)),
          "wild_shifted": miou_from_confusion(confusion_matrix(wild_maps[wild_shifted], wild_masks[wild_shifted])),
          "t0": miou_from_confusion(confusion_matrix(predict(target, t0[0], batch_size), t0[1]))}
    bounds = size_bounds(np.stack([class_fractions(m, C) for m in s0_masks]), C)
    shared = Shared(world.seed, [x for x, _, _ in meta], np.array([d for _, _, d in meta]), true_miou, entropy,
                    distances, target_fractions, competitor_fractions, competitors, bounds, v0)
    arrays = {"pool_images": images, "pool_masks": masks, "wild_images": wild_images, "wild_masks": wild_masks,
              "wild_shifted": wild_shifted}
    return shared, arrays


def save(path: Path, shared: Shared, arrays: dict[str, np.ndarray]) -> None:
    """One npz holding the Shared view and the fine-tunes' arrays (written whole, then renamed)."""
    header = {"seed": shared.seed, "ids": shared.ids, "competitors": list(shared.competitors),
              "bounds": shared.bounds.to_dict(), "v0": shared.v0}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, header=np.array(json.dumps(header)), in_domain=shared.in_domain, true_miou=shared.true_miou,
             entropy=shared.entropy, distances=shared.distances, target_fractions=shared.target_fractions,
             competitor_fractions=shared.competitor_fractions, **arrays)
    partial.replace(path)


def load(path: Path) -> Shared:
    """The Shared view stored by `save` (the images stay on disk for the fine-tunes)."""
    with np.load(path) as data:
        header = json.loads(str(data["header"]))
        return Shared(header["seed"], header["ids"], data["in_domain"], data["true_miou"], data["entropy"],
                      data["distances"], data["target_fractions"], data["competitor_fractions"],
                      tuple(header["competitors"]), SizeBounds.from_dict(header["bounds"]), header["v0"])


def competitors_path(path: Path) -> Path:
    """Where `scores_on_w` caches a seed's scores: beside its npz, `<npz stem>.competitors.json`."""
    return path.with_name(f"{path.stem}.competitors.json")


def scores_on_w(path: Path, zoo: dict[str, nn.Module], batch_size: int = 256) -> dict:
    """Each competitor's dataset mIoU on the seed's W and on W's shifted in-domain images (the v0 target's
    definitions in `compute`), with the v0 target's beside: {"seed", "target", "v0", "competitors": {arch:
    {"wild", "wild_shifted"}}}. Computed once from the npz `save` wrote and cached next to it as JSON."""
    cache = competitors_path(path)
    if cache.exists():
        return json.loads(cache.read_text())
    with np.load(path) as data:
        header = json.loads(str(data["header"]))
        wild_images, wild_masks, shifted = data["wild_images"], data["wild_masks"], data["wild_shifted"]
    competitors = {}
    for arch in header["competitors"]:
        maps = predict(zoo[arch], wild_images, batch_size)
        competitors[arch] = {"wild": miou_from_confusion(confusion_matrix(maps, wild_masks)),
                             "wild_shifted": miou_from_confusion(confusion_matrix(maps[shifted], wild_masks[shifted]))}
    scores = {"seed": header["seed"], "target": TARGET_ARCH, "v0": header["v0"], "competitors": competitors}
    partial = cache.with_suffix(".partial")
    partial.write_text(json.dumps(scores, indent=1))
    partial.replace(cache)
    return scores
