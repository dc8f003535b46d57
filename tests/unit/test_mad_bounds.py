"""Size bounds: 25th/75th percentiles of class fractions over training masks that contain the class."""

import numpy as np
import pytest

from segmad.mad import SizeBounds, size_bounds


def test_percentiles_over_masks_containing_the_class_only():
    fractions = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.5, 0.5]])
    bounds = size_bounds(fractions, num_classes=1)
    assert bounds.lower[1] == pytest.approx(np.percentile([0.1, 0.2, 0.3, 0.4, 0.5], 25))
    assert bounds.upper[1] == pytest.approx(np.percentile([0.1, 0.2, 0.3, 0.4, 0.5], 75))


def test_class_absent_from_every_training_mask_gets_zero_to_one():
    bounds = size_bounds(np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]), num_classes=2)
    assert (bounds.lower[2], bounds.upper[2]) == (0.0, 1.0)


def test_no_training_masks_gives_full_bounds():
    bounds = size_bounds(np.zeros((0, 3)), num_classes=2)
    assert bounds.lower.tolist() == [0, 0, 0] and bounds.upper.tolist() == [1, 1, 1]


def test_subgroups_are_inclusive_and_need_a_positive_fraction():
    bounds = SizeBounds(lower=np.array([0, 0.1, 0.0]), upper=np.array([1, 0.3, 1.0]))
    assert bounds.subgroups(np.array([0.5, 0.1, 0.0])).tolist() == [1]  # f == p_k is inside; f == 0 never
    assert bounds.subgroups(np.array([0.4, 0.3, 0.3])).tolist() == [1, 2]  # f == q_k is inside
    assert bounds.subgroups(np.array([0.6, 0.31, 0.09])).tolist() == [2]


def test_subgroups_of_rows_are_the_subgroups_of_each_row():
    bounds = SizeBounds(lower=np.array([0, 0.1, 0.0]), upper=np.array([1, 0.3, 1.0]))
    rows = np.array([[0.5, 0.1, 0.0], [0.4, 0.3, 0.3], [0.6, 0.31, 0.09], [1.0, 0.0, 0.0]])
    assert bounds.subgroups_of_rows(rows) == [bounds.subgroups(row).tolist() for row in rows] == [[1], [1, 2], [2], []]
    assert bounds.subgroups_of_rows(np.zeros((0, 3))) == []


def test_round_trips_through_a_dict():
    bounds = SizeBounds(lower=np.array([0, 0.1]), upper=np.array([1, 0.3]))
    again = SizeBounds.from_dict(bounds.to_dict())
    assert again.lower.tolist() == bounds.lower.tolist() and again.upper.tolist() == bounds.upper.tolist()


def test_wrong_shape_is_refused():
    with pytest.raises(ValueError):
        size_bounds(np.zeros((3, 2)), num_classes=4)
