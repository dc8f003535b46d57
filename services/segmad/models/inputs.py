"""The one conversion from uint8 images to the tensors every zoo model takes."""

from __future__ import annotations

import numpy as np
import torch

# Fixed per-channel statistics (ImageNet's, as torchvision uses): the synthetic world's images span
# the same 0..255 range, and fixed constants keep a checkpoint independent of the data it saw.
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float32 (N, 3, H, W)."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images of shape (N, H, W, 3), got {images.shape}")
    x = (images.astype(np.float32) - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
