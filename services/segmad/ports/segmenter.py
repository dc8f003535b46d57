"""The segmenter port: named, versioned models that turn images into label maps."""

from __future__ import annotations

import abc
from typing import NamedTuple, Sequence

import numpy as np

class ModelRef(NamedTuple):
    """A model version: (name, version)."""

    name: str
    version: str


class Encoded(NamedTuple):
    """An image as the blob store holds it: its pixels, uint8 (H, W, 3), and the PNG they were decoded
    from. A remote segmenter sends the PNG as it is instead of encoding the pixels again (for a 512 px
    image that encoding took 31-32 ms on the development machine, against 4.5 ms to decode it)."""

    pixels: np.ndarray
    png: bytes


def pixels_of(images):
    """The images as arrays: Encoded ones as their pixels, arrays (and an (N, H, W, 3) batch) as they are."""
    if isinstance(images, np.ndarray):
        return images
    return [image.pixels if isinstance(image, Encoded) else image for image in images]


def as_answer(images, maps: list[np.ndarray]):
    """Maps as the caller gave the images: an array (N, H, W) for an array (N, H, W, 3), else a list."""
    if isinstance(images, np.ndarray):
        return np.stack(maps) if maps else np.zeros((0,) + images.shape[1:3], np.uint8)
    return list(maps)


class UnknownModel(KeyError):
    """No model registered under that name and version."""


class Segmenter(abc.ABC):
    """Named, versioned segmentation models that turn images into label maps."""

    # True for a segmenter that runs models in this process: a version must be registered into it
    # (pipeline.models.ensure_loaded) before it predicts; a remote one serves what was published to it
    in_process: bool = False

    @abc.abstractmethod
    def models(self) -> list[ModelRef]:
        """Every registered (name, version), sorted."""

    @abc.abstractmethod
    def predict(self, name: str, version: str, images: np.ndarray | Sequence[np.ndarray]):
        """uint8 label maps in the run's label space, each at its image's size; UnknownModel if not registered.

        Images are uint8 (H, W, 3), of any sizes: given as an array (N, H, W, 3) the maps come back as
        an array (N, H, W); given as a list, as a list.
        """

    @abc.abstractmethod
    def predict_with_entropy(self, name: str, version: str, images: np.ndarray | Sequence[np.ndarray]):
        """The label maps (as `predict`) and each image's mean per-pixel softmax entropy in nats (N,)."""

    def predict_many(self, requests: Sequence[tuple[ModelRef, np.ndarray | Sequence[np.ndarray | Encoded]]]) -> list[tuple]:
        """predict_with_entropy of each (model version, images), in order; an adapter may serve them at once.
        Images may be Encoded (as read from the blob store); the maps come back as for a list of arrays."""
        return [self.predict_with_entropy(ref.name, ref.version, pixels_of(images)) for ref, images in requests]

    def close(self) -> None:
        """Release connections or pools the adapter holds (none by default)."""
