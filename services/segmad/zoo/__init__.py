"""The model zoo on disk: one checkpoint per architecture at <data_dir>/zoo/<arch>.pt."""

from segmad.zoo.recipes import ZOO_ROLES, recipe
from segmad.zoo.store import checkpoint_path, list_checkpoints, load, save

__all__ = ["ZOO_ROLES", "checkpoint_path", "list_checkpoints", "load", "recipe", "save"]
