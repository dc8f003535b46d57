"""Building blocks shared by the zoo's architectures: conv-BN-ReLU units and residual blocks."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def conv_bn_relu(c_in: int, c_out: int, k: int = 3, stride: int = 1, dilation: int = 1, groups: int = 1) -> nn.Sequential:
    """A k×k convolution (padding keeps the size at stride 1), batch norm and ReLU."""
    pad = dilation * (k - 1) // 2
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, stride, pad, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class ResBlock(nn.Module):
    """A basic residual block (two 3×3 convs); stride or dilation as in DRN / dilated ResNets."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv1 = conv_bn_relu(c_in, c_out, 3, stride, dilation)
        self.conv2 = nn.Sequential(
            nn.Conv2d(c_out, c_out, 3, 1, dilation, dilation=dilation, bias=False), nn.BatchNorm2d(c_out)
        )
        self.skip = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:  # (B, c_in, H, W) -> (B, c_out, H/stride, W/stride)
        return F.relu(self.conv2(self.conv1(x)) + self.skip(x))


class DilatedResNet(nn.Module):
    """A small DRN-style encoder: after a stride-4 stem, stages dilate instead of striding.

    Returns (low, high): low-level features at stride 4 and high-level ones at output_stride (8 or 4).
    Output stride 4 on a 64-pixel image is the scale-equivalent of DeepLab's 8 on VOC's 513 pixels:
    the world's objects cover ~11% of an image, and even perfect stride-8 logits cap mIoU near 0.63.
    """

    def __init__(self, widths: tuple[int, int, int, int, int] = (24, 32, 64, 96, 128), output_stride: int = 8):
        super().__init__()
        w0, w1, w2, w3, w4 = widths
        d = 8 // output_stride                                 # 1 at stride 8, 2 at stride 4
        self.stem = conv_bn_relu(3, w0, 3, stride=2)           # /2
        self.layer1 = ResBlock(w0, w1, stride=2)               # /4
        self.layer2 = ResBlock(w1, w2, stride=2 // d)          # /8 or /4
        self.layer3 = ResBlock(w2, w3, dilation=2)             # receptive field grows without striding
        self.layer4 = ResBlock(w3, w4, dilation=4)
        self.channels = (w1, w4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:     # x: (B, 3, H, W)
        low = self.layer1(self.stem(x))                        # (B, w1, H/4, W/4)
        high = self.layer4(self.layer3(self.layer2(low)))      # (B, w4, H/os, W/os)
        return low, high


def upsample(x: Tensor, size) -> Tensor:
    """Bilinear resize to size (h, w), as every head here does before its logits leave the net."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
