"""The six architectures: shapes, sizes, and the input conversion."""

import numpy as np
import pytest
import torch

from segmad.models import ARCHITECTURES, MEAN, STD, TARGET_ARCH, build, param_count, to_input

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("size", [48, 64, 96])  # multiples of INPUT_MULTIPLE = 16
@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_architecture_outputs_one_logit_map_per_class_plus_background(arch, size):
    model = build(arch, num_classes=8).eval()
    with torch.no_grad():
        logits = model(torch.zeros(2, 3, size, size))
    assert logits.shape == (2, 9, size, size)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_architecture_has_between_0_3_and_0_7_million_parameters(arch):
    assert 300_000 <= param_count(build(arch, num_classes=8)) <= 700_000


def test_num_classes_sets_the_output_channels():
    with torch.no_grad():
        assert build("unet", num_classes=3).eval()(torch.zeros(1, 3, 32, 32)).shape[1] == 4


def test_the_target_is_deeplabv3plus_among_six_architectures():
    assert TARGET_ARCH == "deeplabv3plus" and len(ARCHITECTURES) == 6 and TARGET_ARCH in ARCHITECTURES


def test_build_rejects_an_unknown_architecture():
    with pytest.raises(ValueError, match="unknown architecture"):
        build("segformer", num_classes=8)


def test_to_input_normalises_nhwc_uint8_to_nchw_float():
    images = np.zeros((2, 4, 5, 3), np.uint8)
    images[1, 2, 3] = (255, 0, 10)
    x = to_input(images)
    assert x.shape == (2, 3, 4, 5) and x.dtype == torch.float32
    assert x[1, :, 2, 3].tolist() == pytest.approx(((np.array([255, 0, 10]) - MEAN) / STD).tolist())


def test_to_input_rejects_grayscale():
    with pytest.raises(ValueError, match="N, H, W, 3"):
        to_input(np.zeros((2, 4, 4), np.uint8))
