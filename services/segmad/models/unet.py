"""U-Net: a symmetric encoder-decoder with a skip at every scale (stride-2 stem to keep it cheap on CPU)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from segmad.models.blocks import conv_bn_relu, upsample


def double_conv(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3×3 conv-BN-ReLU units, U-Net's basic stage."""
    return nn.Sequential(conv_bn_relu(c_in, c_out), conv_bn_relu(c_out, c_out))


class Up(nn.Module):
    """Transposed-conv upsampling ×2, concatenation with the skip, double conv."""

    def __init__(self, c_in: int, c_skip: int, c_out: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(c_in, c_out, 2, stride=2)
        self.conv = double_conv(c_out + c_skip, c_out)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:      # (B, c_in, h, w), (B, c_skip, 2h, 2w)
        return self.conv(torch.cat([self.up(x), skip], 1))     # (B, c_out, 2h, 2w)


class UNet(nn.Module):
    """Encoder 16→32→64→128 channels at strides 2..16, decoder back to stride 2, logits upsampled 2×."""

    def __init__(self, num_classes: int, widths=(16, 32, 64, 128)):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.stem = nn.Sequential(conv_bn_relu(3, w0, 3, stride=2), conv_bn_relu(w0, w0))  # /2
        self.down1 = nn.Sequential(nn.MaxPool2d(2), double_conv(w0, w1))   # /4
        self.down2 = nn.Sequential(nn.MaxPool2d(2), double_conv(w1, w2))   # /8
        self.down3 = nn.Sequential(nn.MaxPool2d(2), double_conv(w2, w3))   # /16
        self.up3, self.up2, self.up1 = Up(w3, w2, w2), Up(w2, w1, w1), Up(w1, w0, w0)
        self.classifier = nn.Conv2d(w0, num_classes + 1, 1)

    def forward(self, x: Tensor) -> Tensor:                    # x: (B, 3, H, W)
        s0 = self.stem(x)                                       # (B, 16, H/2, W/2)
        s1 = self.down1(s0)                                     # (B, 32, H/4, W/4)
        s2 = self.down2(s1)                                     # (B, 64, H/8, W/8)
        y = self.down3(s2)                                      # (B, 128, H/16, W/16)
        y = self.up1(self.up2(self.up3(y, s2), s1), s0)         # (B, 16, H/2, W/2)
        return upsample(self.classifier(y), x.shape[-2:])       # (B, C+1, H, W)
