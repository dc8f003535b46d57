"""FCN-8s: a plain VGG-style encoder to stride 32; class scores from strides 32, 16 and 8 fused by addition."""

from __future__ import annotations

from torch import Tensor, nn

from segmad.models.blocks import conv_bn_relu, upsample


def vgg_stage(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3×3 convs then a 2×2 max-pool, as in VGG (no residuals)."""
    return nn.Sequential(conv_bn_relu(c_in, c_out), conv_bn_relu(c_out, c_out), nn.MaxPool2d(2))


class FCN8s(nn.Module):
    """FCN-8s's three-level skip fusion, one octave finer: scores at strides 16, 8 and 4 summed coarse-to-fine.

    FCN-8s fuses pool5/pool4/pool3 of a 500-pixel image; on a 64-pixel one that leaves a 2×2 map and
    stride-8 logits, which cannot outline the world's small objects, so a stride-2 stem replaces
    VGG's first pooled stage and every tap moves one octave up.
    """

    def __init__(self, num_classes: int, widths=(16, 32, 64, 128), head: int = 160):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.stem = nn.Sequential(conv_bn_relu(3, w0, 3, stride=2), conv_bn_relu(w0, w0))  # /2
        self.pool4, self.pool8, self.pool16 = vgg_stage(w0, w1), vgg_stage(w1, w2), vgg_stage(w2, w3)
        self.head = nn.Sequential(conv_bn_relu(w3, head, 3), nn.Dropout2d(0.1), conv_bn_relu(head, head, 1))
        self.score16 = nn.Conv2d(head, num_classes + 1, 1)
        self.score8 = nn.Conv2d(w2, num_classes + 1, 1)
        self.score4 = nn.Conv2d(w1, num_classes + 1, 1)

    def forward(self, x: Tensor) -> Tensor:                    # x: (B, 3, H, W)
        p4 = self.pool4(self.stem(x))                           # (B, 32, H/4, W/4)
        p8 = self.pool8(p4)                                     # (B, 64, H/8, W/8)
        s = self.score16(self.head(self.pool16(p8)))            # (B, C+1, H/16, W/16)
        s = upsample(s, p8.shape[-2:]) + self.score8(p8)        # (B, C+1, H/8, W/8)
        s = upsample(s, p4.shape[-2:]) + self.score4(p4)        # (B, C+1, H/4, W/4)
        return upsample(s, x.shape[-2:])                        # (B, C+1, H, W)
