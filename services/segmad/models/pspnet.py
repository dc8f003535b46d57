"""PSPNet: a dilated residual encoder and a pyramid pooling module that pools context at several grid sizes."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from segmad.models.blocks import DilatedResNet, conv_bn_relu, upsample

# Bin sizes for the 16×16 stride-4 map of a 64-pixel input; PSPNet's 1/2/3/6 assume 60×60.
PYRAMID_BINS = (1, 2, 4, 8)


class PyramidPooling(nn.Module):
    """Average-pool to each bin size, reduce channels, upsample back, concatenate with the input."""

    def __init__(self, c_in: int, c_branch: int, bins: tuple[int, ...] = PYRAMID_BINS):
        super().__init__()
        # No BN after pooling to 1×1: a batch of one image would make its statistics degenerate.
        self.branches = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(c_in, c_branch, 1), nn.ReLU(inplace=True)) for b in bins
        )
        self.channels = c_in + c_branch * len(bins)

    def forward(self, x: Tensor) -> Tensor:                    # (B, c_in, h, w)
        pooled = [upsample(branch(x), x.shape[-2:]) for branch in self.branches]
        return torch.cat([x] + pooled, 1)                       # (B, c_in + n·c_branch, h, w)


class PSPNet(nn.Module):
    """Pyramid pooling on stride-4 dilated features, a 3×3 fusion conv, logits upsampled 4×."""

    def __init__(self, num_classes: int, widths=(16, 32, 48, 80, 96), branch: int = 24, fuse: int = 64):
        super().__init__()
        self.encoder = DilatedResNet(widths, output_stride=4)
        self.ppm = PyramidPooling(self.encoder.channels[1], branch)
        self.classifier = nn.Sequential(
            conv_bn_relu(self.ppm.channels, fuse), nn.Dropout2d(0.1), nn.Conv2d(fuse, num_classes + 1, 1)
        )

    def forward(self, x: Tensor) -> Tensor:                    # x: (B, 3, H, W)
        _, high = self.encoder(x)                               # (B, 96, H/4, W/4)
        return upsample(self.classifier(self.ppm(high)), x.shape[-2:])  # (B, C+1, H, W)
