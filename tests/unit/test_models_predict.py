"""Inference: label maps, entropy, and the VOC-style mIoU over a set."""

import math

import numpy as np
import pytest
import torch

from segmad.mad.baselines import mean_entropy
from segmad.models import build
from segmad.models.predict import confusion_matrix, dataset_miou, miou_from_confusion, predict, predict_with_entropy
from segmad.scores import labels_and_entropy

pytestmark = pytest.mark.usefixtures("one_thread")


class RedIsClassOne(torch.nn.Module):
    """Predicts class 1 where the (normalised) red channel is high, background elsewhere."""

    def forward(self, x):  # (B, 3, H, W) -> (B, 2, H, W)
        return torch.stack([torch.zeros_like(x[:, 0]), x[:, 0]], 1) * 10


def images_with_red_square(n=3, size=8):
    images = np.zeros((n, size, size, 3), np.uint8)
    images[:, 2:5, 2:5, 0] = 255
    masks = np.zeros((n, size, size), np.uint8)
    masks[:, 2:5, 2:5] = 1
    return images, masks


def test_predict_returns_uint8_label_maps_of_the_image_size():
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    maps = predict(build("lraspp", num_classes=8), images, batch_size=2)
    assert maps.shape == (5, 32, 32) and maps.dtype == np.uint8 and maps.max() <= 8


def test_predict_does_not_depend_on_the_batch_size():
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    model = build("unet", num_classes=8)
    assert np.array_equal(predict(model, images, batch_size=1), predict(model, images, batch_size=4))


def test_predict_restores_training_mode():
    model = build("unet", num_classes=2).train()
    predict(model, np.zeros((1, 32, 32, 3), np.uint8))
    assert model.training


def test_entropy_lies_between_zero_and_log_of_the_class_count():
    images = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    maps, entropy = predict_with_entropy(build("pspnet", num_classes=8), images)
    assert maps.shape == (3, 32, 32) and entropy.shape == (3,)
    assert np.all(entropy >= 0) and np.all(entropy <= math.log(9) + 1e-6)


class FixedLogits(torch.nn.Module):
    """Answers the same logits (K, H, W) for every image, whatever it shows."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.register_buffer("logits", logits)

    def forward(self, x):
        return self.logits.expand(x.shape[0], *self.logits.shape)


def test_entropy_is_the_mean_softmax_entropy_of_the_logits_in_nats():
    logits = torch.randn(5, 8, 8, generator=torch.Generator().manual_seed(0)) * 3
    logits[:, 0, 0] = 0.0  # one uniform pixel: log 5 nats
    _, entropy = predict_with_entropy(FixedLogits(logits), np.zeros((2, 8, 8, 3), np.uint8))
    want = mean_entropy(torch.softmax(logits.double(), 0).numpy())  # numpy's -sum(p log p), independently
    assert want > 0.3 and entropy == pytest.approx([want, want], rel=1e-5)
    _, uniform = predict_with_entropy(FixedLogits(torch.zeros(5, 4, 4)), np.zeros((1, 4, 4, 3), np.uint8))
    assert uniform == pytest.approx([math.log(5)], rel=1e-6)


def test_labels_are_the_first_class_of_highest_score_and_entropy_is_per_pixel():
    scores = torch.randn(3, 6, 5, 7, generator=torch.Generator().manual_seed(1)) * 4
    scores[0, :, 0, 0] = 1.0  # a tie of every class: the first wins, as argmax has it
    labels, entropy = labels_and_entropy(scores)
    assert labels.dtype == torch.uint8 and torch.equal(labels, scores.argmax(1).to(torch.uint8)) and labels[0, 0, 0] == 0
    p = torch.softmax(scores.double(), 1)
    assert torch.allclose(entropy.double(), -(p * p.log()).sum(1), atol=1e-5)
    probabilities = torch.softmax(scores, 1)
    labels_p, entropy_p = labels_and_entropy(probabilities, probabilities=True)
    assert torch.equal(labels_p, labels) and torch.allclose(entropy_p, entropy, atol=1e-5)
    batch_at_once = labels_and_entropy(scores, per_image=False)  # what a GPU runs
    assert torch.equal(batch_at_once[0], labels) and torch.allclose(batch_at_once[1], entropy, atol=1e-6)
    none = labels_and_entropy(torch.zeros(0, 6, 5, 7))
    assert none[0].shape == none[1].shape == (0, 5, 7)


def test_confident_predictions_have_near_zero_entropy():
    _, entropy = predict_with_entropy(RedIsClassOne(), images_with_red_square()[0])
    assert entropy.max() < 0.05


def test_dataset_miou_is_one_for_a_perfect_model():
    assert dataset_miou(RedIsClassOne(), *images_with_red_square()) == 1.0


def test_miou_ignores_pixels_labelled_255():
    truth = np.array([[0, 1, 255, 255]], np.uint8)
    predicted = np.array([[0, 1, 1, 0]], np.uint8)
    assert miou_from_confusion(confusion_matrix(predicted, truth)) == 1.0


def test_miou_excludes_classes_absent_from_truth_and_prediction():
    truth = np.array([[0, 0, 1, 1]], np.uint8)
    predicted = np.array([[0, 0, 1, 0]], np.uint8)
    assert miou_from_confusion(confusion_matrix(predicted, truth)) == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_miou_pools_one_confusion_matrix_over_the_set():
    truth = np.array([[[1, 1, 1, 1]], [[1, 0, 0, 0]]], np.uint8)
    predicted = np.array([[[1, 1, 1, 1]], [[0, 0, 0, 0]]], np.uint8)
    # pooled: class 1 IoU 4/5, class 0 IoU 3/4; a mean of per-image mIoUs would be (1 + 3/8) / 2
    assert miou_from_confusion(confusion_matrix(predicted, truth)) == pytest.approx((4 / 5 + 3 / 4) / 2)
