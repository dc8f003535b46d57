"""DESIGN §2: d = 1 − mIoU over labels present, ignoring 255, symmetric, in [0, 1]."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from segmad.mad import class_fractions, discrepancy, label_counts
from segmad.mad.distance import discrepancy_and_counts


def m(rows):
    return np.array(rows, dtype=np.uint8)


def brute_force(a, b):
    """The contract, written as plainly as possible."""
    keep = (a != 255) & (b != 255)
    a, b = a[keep], b[keep]
    if a.size == 0:
        return 0.0
    labels = sorted(set(a.tolist()) | set(b.tolist()))
    ious = [np.sum((a == k) & (b == k)) / np.sum((a == k) | (b == k)) for k in labels]
    return 1.0 - float(np.mean(ious))


def test_identical_maps_have_zero_distance():
    assert discrepancy(m([[0, 1], [2, 2]]), m([[0, 1], [2, 2]])) == 0.0


def test_hand_computed_two_labels():
    # label 0: I=1 U=3 ; label 1: I=1 U=3  -> mIoU 1/3
    assert discrepancy(m([[0, 0, 1, 1]]), m([[0, 1, 1, 0]])) == pytest.approx(2 / 3)


def test_label_present_in_one_map_only_counts_with_zero_iou():
    # label 0: I=1 U=2 ; label 3 only in b: I=0 U=1 -> mIoU 0.25
    assert discrepancy(m([[0, 0]]), m([[0, 3]])) == pytest.approx(0.75)


def test_labels_absent_from_both_maps_do_not_count():
    assert discrepancy(m([[1, 1]]), m([[1, 1]])) == 0.0
    assert discrepancy(m([[1, 2]]), m([[1, 1]])) == pytest.approx(1 - (0.5 + 0) / 2)


def test_pixels_ignored_in_either_map_are_dropped_first():
    a = m([[255, 1, 1, 2]])
    b = m([[1, 255, 1, 2]])
    assert discrepancy(a, b) == 0.0  # only the last two pixels remain, and they agree


def test_no_pixel_left_gives_zero():
    assert discrepancy(m([[255, 1]]), m([[2, 255]])) == 0.0
    assert discrepancy(np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.uint8)) == 0.0


def test_single_class_maps_that_disagree_completely():
    assert discrepancy(m([[1, 1]]), m([[2, 2]])) == 1.0


def test_shapes_must_match():
    with pytest.raises(ValueError):
        discrepancy(m([[1, 1]]), m([[1], [1]]))


def test_label_maps_must_be_uint8():
    with pytest.raises(TypeError):
        discrepancy(np.zeros((2, 2), np.int64), np.zeros((2, 2), np.int64))


def test_precomputed_counts_give_the_same_distance():
    a, b = m([[0, 1, 1, 2], [2, 2, 0, 255]]), m([[0, 1, 2, 2], [1, 2, 0, 0]])
    assert discrepancy(a, b, label_counts(a), label_counts(b)) == discrepancy(a, b)


def test_class_fractions_count_over_all_pixels_including_ignore():
    fractions = class_fractions(m([[0, 1, 1, 255]]), num_classes=2)
    assert fractions.tolist() == [0.25, 0.5, 0.0]


label_maps = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        arrays(np.uint8, (n, 5), elements=st.sampled_from([0, 1, 2, 3, 7, 255])),
        arrays(np.uint8, (n, 5), elements=st.sampled_from([0, 1, 2, 3, 7, 255])),
    )
)


@settings(max_examples=300, deadline=None)
@given(label_maps)
def test_matches_the_plain_definition(pair):
    a, b = pair
    assert discrepancy(a, b) == pytest.approx(brute_force(a, b), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(label_maps)
def test_is_symmetric_and_bounded(pair):
    a, b = pair
    d = discrepancy(a, b)
    assert 0.0 <= d <= 1.0
    assert d == pytest.approx(discrepancy(b, a), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(label_maps)
def test_a_map_is_at_zero_distance_from_itself(pair):
    assert discrepancy(pair[0], pair[0]) == 0.0


def test_label_counts_of_a_large_map_are_exact_even_for_labels_a_sample_would_miss():
    rng = np.random.default_rng(0)
    big = rng.integers(0, 3, size=(300, 300)).astype(np.uint8)
    big[17, 23] = 200  # one pixel: a strided sample cannot be relied on to see it
    assert np.array_equal(label_counts(big), np.bincount(big.ravel(), minlength=256))
    blocky = np.kron(rng.integers(0, 21, (10, 10)), np.ones((40, 40), np.int64)).astype(np.uint8)
    assert np.array_equal(label_counts(blocky), np.bincount(blocky.ravel(), minlength=256))


def reference_distance(a, b):
    """Today's d, bit for bit: intersections from a joint histogram, then the mean IoU as np.mean takes it."""
    keep = (a != 255) & (b != 255)
    a, b = a[keep].astype(np.int64), b[keep].astype(np.int64)
    if a.size == 0 or np.array_equal(a, b):
        return 0.0
    joint = np.bincount(a * 256 + b, minlength=256 * 256).reshape(256, 256)
    intersection = np.diagonal(joint)
    union = joint.sum(axis=1) + joint.sum(axis=0) - intersection
    present = union > 0
    return 1.0 - float(np.mean(intersection[present] / union[present]))


def blobby_pair(seed, shape, share, ignore=0.0):
    """A blocky map and a copy that differs on about `share` of its pixels, in blobs; some 255s if asked."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 6, (shape[0] // 16 + 1, shape[1] // 16 + 1))
    a = np.kron(blocks, np.ones((16, 16), np.int64))[: shape[0], : shape[1]].astype(np.uint8)
    b = a.copy()
    while np.mean(a != b) < share:
        y, x = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        b[y : y + 9, x : x + 13] = rng.integers(0, 8)
    for m in (a, b):
        m[rng.random(shape) < ignore] = 255
    return a, b


# shares on both sides of where d switches from gathering the differing pixels to one pass per label
PAIRS = [(seed, shape, share, ignore)
         for seed, (shape, share) in enumerate([((200, 203), 0.0), ((200, 203), 0.005), ((257, 255), 0.03),
                                               ((256, 256), 0.12), ((199, 301), 0.3), ((130, 131), 0.7)])
         for ignore in (0.0, 0.02)]


@pytest.mark.parametrize("seed, shape, share, ignore", PAIRS)
def test_large_maps_give_exactly_the_reference_value(seed, shape, share, ignore):
    a, b = blobby_pair(seed, shape, share, ignore)
    assert discrepancy(a, b) == reference_distance(a, b)
    assert discrepancy(a, b, label_counts(a), label_counts(b)) == reference_distance(a, b)
    assert discrepancy(b, a) == reference_distance(b, a)


@pytest.mark.parametrize("seed, shape, share, ignore", PAIRS)
def test_distance_and_counts_together_equal_each_computed_alone(seed, shape, share, ignore):
    a, b = blobby_pair(seed, shape, share, ignore)
    distance, counts_b = discrepancy_and_counts(a, b, label_counts(a))
    assert distance == discrepancy(a, b)
    assert np.array_equal(counts_b, np.bincount(b.ravel(), minlength=256))


def test_maps_sharing_one_label_or_none_need_no_counting_and_stay_exact():
    a = np.zeros((64, 64), np.uint8)
    b = a.copy()
    b[:10] = 3  # label 0 shared, label 3 only in b
    assert discrepancy(a, b) == reference_distance(a, b)
    assert discrepancy(a, np.full_like(a, 4)) == 1.0


@settings(max_examples=200, deadline=None)
@given(label_maps)
def test_distance_and_counts_match_the_plain_definition_on_small_maps(pair):
    a, b = pair
    distance, counts_b = discrepancy_and_counts(a, b, label_counts(a))
    assert distance == discrepancy(a, b) == reference_distance(a, b)
    assert np.array_equal(counts_b, np.bincount(b.ravel(), minlength=256))


def test_strided_and_offset_views_give_the_values_of_their_copies():
    a, b = blobby_pair(9, (64, 70), 0.05)
    for view_a, view_b in ((a[:, ::2], b[:, ::2]), (a.ravel()[1:], b.ravel()[1:]), (a.T, b.T)):
        assert discrepancy(view_a, view_b) == discrepancy(view_a.copy(), view_b.copy())
        distance, counts = discrepancy_and_counts(view_a, view_b, label_counts(view_a))
        assert distance == discrepancy(view_a.copy(), view_b.copy())
        assert np.array_equal(counts, label_counts(view_b.copy()))
