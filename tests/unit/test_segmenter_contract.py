"""What every Segmenter adapter promises; an adapter's test class provides `segmenter` serving
the model ("tiny", "1") that labels every pixel whose red channel exceeds 127 as class 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from segmad.ports.segmenter import ModelRef, Segmenter, UnknownModel


def images() -> np.ndarray:
    """Two 32×32 images: the first left half red, the second all black."""
    batch = np.zeros((2, 32, 32, 3), np.uint8)
    batch[0, :, :16, 0] = 255
    return batch


class SegmenterContract:
    @pytest.fixture
    def segmenter(self) -> Segmenter:
        raise NotImplementedError("an adapter's test class provides the segmenter")

    def test_a_registered_model_is_listed(self, segmenter):
        assert ModelRef("tiny", "1") in segmenter.models()

    def test_predict_gives_one_uint8_label_map_per_image(self, segmenter):
        labels = segmenter.predict("tiny", "1", images())
        assert labels.dtype == np.uint8 and labels.shape == (2, 32, 32)

    def test_predict_labels_what_the_model_sees(self, segmenter):
        labels = segmenter.predict("tiny", "1", images())
        assert (labels[0, :, :16] == 1).all() and (labels[0, :, 16:] == 0).all() and (labels[1] == 0).all()

    def test_predict_with_entropy_gives_the_same_labels_and_one_entropy_per_image(self, segmenter):
        labels, entropy = segmenter.predict_with_entropy("tiny", "1", images())
        assert (labels == segmenter.predict("tiny", "1", images())).all()
        assert entropy.shape == (2,) and (entropy >= 0).all()

    def test_an_unknown_model_is_refused(self, segmenter):
        with pytest.raises(UnknownModel):
            segmenter.predict("tiny", "999", images())
