"""LR-ASPP on a MobileNetV2-style encoder of depthwise-separable inverted residual blocks."""

from __future__ import annotations

from torch import Tensor, nn

from segmad.models.blocks import conv_bn_relu, upsample


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1×1 expand, 3×3 depthwise, linear 1×1 project; residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, expand: int = 4):
        super().__init__()
        hidden = c_in * expand
        self.block = nn.Sequential(
            conv_bn_relu(c_in, hidden, 1),
            conv_bn_relu(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:                    # (B, c_in, H, W) -> (B, c_out, H/s, W/s)
        y = self.block(x)
        return x + y if self.residual else y


def stage(c_in: int, c_out: int, n: int, stride: int) -> nn.Sequential:
    """n inverted residual blocks, the first one striding."""
    return nn.Sequential(*(InvertedResidual(c_in if i == 0 else c_out, c_out, stride if i == 0 else 1) for i in range(n)))


class LRASPP(nn.Module):
    """Lite R-ASPP head: high-level features gated by a global attention vector, plus a low-level skip.

    The original taps strides 16 and 8 of a 224+ pixel image; at 64 pixels that leaves 4×4 maps and
    blurs small objects away, so here the taps are one octave finer: stride 8 (high) and 4 (low).
    """

    def __init__(self, num_classes: int, head: int = 96):
        super().__init__()
        self.low = nn.Sequential(
            conv_bn_relu(3, 16, 3, stride=2),                   # /2
            stage(16, 24, 2, 2),                                # /4  (the skip)
        )
        self.high = nn.Sequential(stage(24, 40, 2, 2), stage(40, 64, 2, 1), stage(64, 96, 2, 1), stage(96, 128, 1, 1))  # /8
        self.branch = conv_bn_relu(128, head, 1)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(128, head, 1), nn.Sigmoid())
        self.score_high = nn.Conv2d(head, num_classes + 1, 1)
        self.score_low = nn.Conv2d(24, num_classes + 1, 1)

    def forward(self, x: Tensor) -> Tensor:                    # x: (B, 3, H, W)
        low = self.low(x)                                       # (B, 24, H/4, W/4)
        high = self.high(low)                                   # (B, 128, H/8, W/8)
        y = self.branch(high) * self.gate(high)                 # (B, 96, H/8, W/8)
        y = self.score_high(upsample(y, low.shape[-2:])) + self.score_low(low)  # (B, C+1, H/4, W/4)
        return upsample(y, x.shape[-2:])                        # (B, C+1, H, W)
