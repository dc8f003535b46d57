"""The model zoo's architectures: six small segmentation networks of different design methodologies.

Every network maps a normalised (N, 3, H, W) batch to logits (N, C+1, H, W) (channel 0 = background)
for any H, W that are multiples of INPUT_MULTIPLE; the zoo trains them at 64×64.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from segmad.models.deeplab import DeepLabV3, DeepLabV3Plus
from segmad.models.fcn import FCN8s
from segmad.models.inputs import MEAN, STD, to_input
from segmad.models.lraspp import LRASPP
from segmad.models.pspnet import PSPNet
from segmad.models.unet import UNet

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "deeplabv3plus": DeepLabV3Plus,
    "deeplabv3": DeepLabV3,
    "unet": UNet,
    "fcn8s": FCN8s,
    "pspnet": PSPNet,
    "lraspp": LRASPP,
}
TARGET_ARCH = "deeplabv3plus"
COMPETITOR_ARCHS = tuple(name for name in ARCHITECTURES if name != TARGET_ARCH)
INPUT_MULTIPLE = 16  # the deepest stride of any zoo network (FCN-8s and U-Net)
INPUT_SIZE = 64

__all__ = ["ARCHITECTURES", "TARGET_ARCH", "COMPETITOR_ARCHS", "INPUT_MULTIPLE", "INPUT_SIZE",
           "MEAN", "STD", "build", "param_count", "to_input"]


def build(arch: str, num_classes: int) -> nn.Module:
    """A freshly initialised network of the named architecture with num_classes foreground classes."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](num_classes)


def param_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
