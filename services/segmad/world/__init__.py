"""The synthetic world: textured objects on backgrounds, with known masks and known shifts."""

from segmad.world.classes import CLASS_NAMES
from segmad.world.config import SPLITS, WorldConfig, split_size
from segmad.world.generate import Sample, sample, samples, stack
from segmad.world.shifts import SHIFT_FACTORS

__all__ = ["CLASS_NAMES", "SHIFT_FACTORS", "SPLITS", "Sample", "WorldConfig", "sample", "samples",
           "split_size", "stack"]
