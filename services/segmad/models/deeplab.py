"""DeepLabV3 (ASPP on a dilated encoder) and DeepLabV3+ (the same plus a decoder with a low-level skip)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from segmad.models.blocks import DilatedResNet, conv_bn_relu, upsample

# Atrous rates for the 8×8 (stride 8) or 16×16 (stride 4) maps of a 64-pixel input; DeepLab's
# 6/12/18 assume 33×33 maps of large objects. The world's objects are small: at stride 4, rates
# 2/4/6 reached T0 mIoU 0.69 after 12 epochs where 1/2/3 reached 0.82.
ASPP_RATES = (1, 2, 3)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1×1 branch, dilated 3×3 branches and an image-pooling branch."""

    def __init__(self, c_in: int, c_out: int, rates: tuple[int, ...] = ASPP_RATES):
        super().__init__()
        self.branches = nn.ModuleList(
            [conv_bn_relu(c_in, c_out, 1)] + [conv_bn_relu(c_in, c_out, 3, dilation=r) for r in rates]
        )
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, c_out, 1, bias=False), nn.ReLU(inplace=True))
        self.project = conv_bn_relu(c_out * (len(rates) + 2), c_out, 1)

    def forward(self, x: Tensor) -> Tensor:                    # (B, c_in, h, w)
        pooled = self.pool(x).expand(-1, -1, *x.shape[-2:])     # (B, c_out, h, w), no BN: batch of 1 ok
        return self.project(torch.cat([b(x) for b in self.branches] + [pooled], dim=1))  # (B, c_out, h, w)


class DeepLabV3(nn.Module):
    """ASPP head on stride-4 dilated features, logits upsampled 4× (no decoder)."""

    def __init__(self, num_classes: int, widths=(16, 32, 48, 64, 96), aspp: int = 48):
        super().__init__()
        self.encoder = DilatedResNet(widths, output_stride=4)
        self.aspp = ASPP(self.encoder.channels[1], aspp)
        self.classifier = nn.Sequential(conv_bn_relu(aspp, aspp), nn.Conv2d(aspp, num_classes + 1, 1))

    def forward(self, x: Tensor) -> Tensor:                    # x: (B, 3, H, W)
        _, high = self.encoder(x)                               # (B, 96, H/4, W/4)
        return upsample(self.classifier(self.aspp(high)), x.shape[-2:])  # (B, C+1, H, W)


class DeepLabV3Plus(nn.Module):
    """The target: ASPP on a dilated residual encoder, a decoder that fuses stride-4 low-level features."""

    def __init__(self, num_classes: int, widths=(24, 32, 64, 80, 112), aspp: int = 48, low: int = 24):
        super().__init__()
        self.encoder = DilatedResNet(widths, output_stride=8)
        self.aspp = ASPP(self.encoder.channels[1], aspp)
        self.reduce = conv_bn_relu(self.encoder.channels[0], low, 1)
        self.decoder = nn.Sequential(conv_bn_relu(aspp + low, aspp), conv_bn_relu(aspp, aspp))
        self.classifier = nn.Conv2d(aspp, num_classes + 1, 1)

    def forward(self, x: Tensor) -> Tensor:                    # x: (B, 3, H, W)
        low, high = self.encoder(x)                             # (B, 32, H/4, W/4), (B, 112, H/8, W/8)
        y = upsample(self.aspp(high), low.shape[-2:])           # (B, 48, H/4, W/4)
        y = self.decoder(torch.cat([y, self.reduce(low)], 1))   # (B, 48, H/4, W/4)
        return upsample(self.classifier(y), x.shape[-2:])       # (B, C+1, H, W)
