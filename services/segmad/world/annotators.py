"""Simulated annotators: they see the truth the world knows and behave like the paper's people.

A rating is a noisy function of the target's true mIoU on the image; an out-of-domain image is
vetoed with high probability; a dense label is the true mask, optionally with boundary noise.
Every booking carries the time a person would spend (paper §4.2.3: ≈7 s a rating, ≈135 s a mask).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from segmad.mad.weak import OUT_OF_DOMAIN


@dataclass(frozen=True)
class AnnotatorConfig:
    """How the simulated people behave; defaults follow the paper's timings."""

    count: int = 3
    seed: int = 0
    rating_noise: float = 0.5  # std of the latent score, in rating steps
    bias_spread: float = 0.25  # std of each annotator's personal offset
    veto_probability: float = 0.95  # chance to veto an out-of-domain image
    false_veto_probability: float = 0.002  # chance to veto an in-domain image
    boundary_noise: float = 0.0  # share of boundary pixels relabelled to a neighbour's label
    seconds_per_rating: float = 7.0
    seconds_per_mask: float = 135.0


@dataclass(frozen=True)
class Booking:
    """One piece of annotation work: what was produced and how long it took."""

    annotator: str
    image_id: str
    seconds: float


def _rng(seed: int, annotator: int, image_id: str, purpose: int) -> np.random.Generator:
    return np.random.default_rng([seed, annotator, zlib.crc32(image_id.encode()), purpose])


def rating_for(true_miou: float, latent: float) -> int:
    """The ACR rating 1..5 of a prediction of true mIoU q, given a noisy offset: round(1 + 4q + offset)."""
    return int(np.clip(np.rint(1.0 + 4.0 * true_miou + latent), 1, 5))


class SimulatedAnnotators:
    """A seeded panel of annotators; the same (seed, annotator, image) always gives the same answer."""

    def __init__(self, config: AnnotatorConfig = AnnotatorConfig()):
        self.config = config
        panel = np.random.default_rng([config.seed, 7919])
        self.names = [f"annotator-{i + 1}" for i in range(config.count)]
        self.biases = panel.normal(0.0, config.bias_spread, size=config.count)

    def rate(self, annotator: int, image_id: str, true_miou: float, in_domain: bool) -> tuple[float, Booking]:
        """One annotator's rating (1..5, or OUT_OF_DOMAIN) of the target's prediction on an image."""
        c = self.config
        rng = _rng(c.seed, annotator, image_id, 1)
        veto = rng.random() < (c.veto_probability if not in_domain else c.false_veto_probability)
        latent = self.biases[annotator] + rng.normal(0.0, c.rating_noise)
        value = OUT_OF_DOMAIN if veto else float(rating_for(true_miou, latent))
        seconds = c.seconds_per_rating * rng.lognormal(0.0, 0.3) / np.exp(0.045)  # mean ≈ seconds_per_rating
        return value, Booking(self.names[annotator], image_id, float(seconds))

    def rate_all(self, image_id: str, true_miou: float, in_domain: bool) -> tuple[list[float], list[Booking]]:
        """Every annotator's rating of one image."""
        pairs = [self.rate(a, image_id, true_miou, in_domain) for a in range(self.config.count)]
        return [v for v, _ in pairs], [b for _, b in pairs]

    def paint(self, annotator: int, image_id: str, true_mask: np.ndarray) -> tuple[np.ndarray, Booking]:
        """A dense label map of the image: the truth, with optional boundary noise."""
        c = self.config
        rng = _rng(c.seed, annotator, image_id, 2)
        mask = true_mask.copy()
        if c.boundary_noise > 0:
            mask = _jitter_boundaries(mask, c.boundary_noise, rng)
        seconds = c.seconds_per_mask * rng.lognormal(0.0, 0.3) / np.exp(0.045)
        return mask, Booking(self.names[annotator], image_id, float(seconds))


def _jitter_boundaries(mask: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Relabel a share of the pixels whose right or lower neighbour differs to that neighbour's label."""
    out = mask.copy()
    right = np.zeros_like(mask, dtype=bool)
    right[:, :-1] = mask[:, :-1] != mask[:, 1:]
    down = np.zeros_like(mask, dtype=bool)
    down[:-1, :] = mask[:-1, :] != mask[1:, :]
    pick = rng.random(mask.shape) < share
    ys, xs = np.nonzero(right & pick)
    out[ys, xs] = mask[ys, xs + 1]
    ys, xs = np.nonzero(down & ~right & pick)
    out[ys, xs] = mask[ys + 1, xs]
    return out
