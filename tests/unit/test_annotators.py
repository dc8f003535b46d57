"""Simulated annotators: ratings follow true quality, OOD gets vetoed, masks are the truth, time is booked."""

import math

import numpy as np

from segmad.mad import OUT_OF_DOMAIN
from segmad.world.annotators import AnnotatorConfig, SimulatedAnnotators, rating_for


def test_rating_scale_follows_true_quality():
    assert [rating_for(q, 0.0) for q in (0.0, 0.25, 0.5, 0.75, 1.0)] == [1, 2, 3, 4, 5]
    assert rating_for(1.0, 3.0) == 5 and rating_for(0.0, -3.0) == 1


def test_same_seed_same_answers_and_another_seed_differs():
    a, b = SimulatedAnnotators(AnnotatorConfig(seed=1)), SimulatedAnnotators(AnnotatorConfig(seed=1))
    ids = [f"pool-{i:06d}" for i in range(200)]
    first = [a.rate(0, i, 0.5, True)[0] for i in ids]
    assert first == [b.rate(0, i, 0.5, True)[0] for i in ids]
    other = SimulatedAnnotators(AnnotatorConfig(seed=2))
    assert first != [other.rate(0, i, 0.5, True)[0] for i in ids]


def test_failures_are_rated_lower_than_good_predictions_on_average():
    panel = SimulatedAnnotators()
    def mean_rating(quality):
        votes = [panel.rate(a, f"x{i}", quality, True)[0] for i in range(300) for a in range(3)]
        return np.mean([v for v in votes if v != OUT_OF_DOMAIN])

    bad, good = mean_rating(0.2), mean_rating(0.95)
    assert good - bad > 2.5


def test_out_of_domain_images_are_almost_always_vetoed_and_in_domain_rarely():
    panel = SimulatedAnnotators()
    ood = [panel.rate(0, f"o{i}", 0.9, False)[0] == OUT_OF_DOMAIN for i in range(500)]
    ind = [panel.rate(0, f"i{i}", 0.9, True)[0] == OUT_OF_DOMAIN for i in range(500)]
    assert np.mean(ood) > 0.9 and np.mean(ind) < 0.02


def test_rating_books_about_seven_seconds_and_a_mask_about_135():
    panel = SimulatedAnnotators()
    ratings = [panel.rate(0, f"x{i}", 0.5, True)[1].seconds for i in range(2000)]
    masks = [panel.paint(0, f"x{i}", np.zeros((4, 4), np.uint8))[1].seconds for i in range(2000)]
    assert math.isclose(np.mean(ratings), 7.0, rel_tol=0.05)
    assert math.isclose(np.mean(masks), 135.0, rel_tol=0.05)


def test_dense_label_is_the_truth_without_boundary_noise():
    truth = np.array([[0, 1, 1], [0, 2, 2]], np.uint8)
    mask, booking = SimulatedAnnotators().paint(1, "x", truth)
    assert np.array_equal(mask, truth) and booking.annotator == "annotator-2"


def test_boundary_noise_changes_only_boundary_pixels_to_a_neighbours_label():
    truth = np.zeros((20, 20), np.uint8)
    truth[5:15, 5:15] = 3
    mask, _ = SimulatedAnnotators(AnnotatorConfig(boundary_noise=1.0)).paint(0, "x", truth)
    changed = mask != truth
    assert changed.any() and set(np.unique(mask)) <= {0, 3}
    assert not changed[8:12, 8:12].any() and not changed[:3].any()
