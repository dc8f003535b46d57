"""Evaluation: VOC-style dataset mIoU from one confusion matrix, and Spearman correlation."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from segmad.mad import ConfusionMatrix, dataset_miou, spearman


def m(rows):
    return np.array(rows, dtype=np.uint8)


def test_one_matrix_over_the_set_not_a_mean_of_images():
    truths = [m([[1, 1, 1, 1]]), m([[0, 0, 0, 0]])]
    preds = [m([[1, 1, 1, 0]]), m([[0, 0, 0, 0]])]
    # class 0: I=4 U=5 ; class 1: I=3 U=4 over the whole set
    assert dataset_miou(truths, preds, num_labels=3) == pytest.approx((4 / 5 + 3 / 4) / 2)


def test_classes_absent_from_truth_and_prediction_are_excluded():
    matrix = ConfusionMatrix(4)
    matrix.update(m([[0, 1]]), m([[0, 1]]))
    assert np.isnan(matrix.iou()[2:]).all() and matrix.miou() == 1.0


def test_ignore_pixels_do_not_count():
    assert dataset_miou([m([[255, 1]])], [m([[0, 1]])], num_labels=2) == 1.0


def test_label_outside_the_matrix_is_an_error():
    with pytest.raises(ValueError):
        ConfusionMatrix(2).update(m([[0, 5]]), m([[0, 1]]))


def test_spearman_matches_scipy_with_ties():
    x, y = [0.9, 0.8, 0.8, 0.5, 0.1], [0.7, 0.9, 0.6, 0.6, 0.2]
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)


def test_spearman_of_identical_rankings_is_one():
    assert spearman([3, 2, 1], [30, 20, 10]) == pytest.approx(1.0)
