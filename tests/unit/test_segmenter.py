"""The embedded segmenter: the shared contract on a one-layer torch model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from segmad.adapters.segmenter import TorchSegmenter

from segmad.ports.segmenter import ModelRef
from segmad.models.inputs import MEAN, STD
from tests.unit.test_segmenter_contract import SegmenterContract, images


def red_detector() -> nn.Module:
    """A 1×1 convolution whose class-1 logit is the normalised red channel minus its value at 127.5."""
    conv = nn.Conv2d(3, 2, kernel_size=1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[1, 0] = 1.0
        conv.bias[1] = float(-(127.5 - MEAN[0]) / STD[0])
    return conv


class TestTorchSegmenter(SegmenterContract):
    @pytest.fixture
    def segmenter(self):
        segmenter = TorchSegmenter(batch_size=1)
        segmenter.register("tiny", "1", red_detector())
        return segmenter


def test_registering_again_replaces_the_model_of_that_version():
    segmenter = TorchSegmenter()
    segmenter.register("tiny", "1", nn.Conv2d(3, 2, 1))
    segmenter.register("tiny", "1", red_detector())
    assert segmenter.models() == [ModelRef("tiny", "1")]
    assert segmenter.predict("tiny", "1", images())[0, 0, 0] == 1


def test_models_lists_every_version_sorted():
    segmenter = TorchSegmenter()
    for name, version in [("unet", "2"), ("fcn8s", "1"), ("unet", "1")]:
        segmenter.register(name, version, red_detector())
    assert segmenter.models() == [ModelRef("fcn8s", "1"), ModelRef("unet", "1"), ModelRef("unet", "2")]
