"""Weak labelling: MOS over annotators, the out-of-domain veto, the n4 lowest."""

import math

import pytest

from segmad.mad import OUT_OF_DOMAIN, lowest_scores, mean_opinion_scores, out_of_domain


def test_mos_is_the_mean_rating():
    assert mean_opinion_scores({"a": [1, 2, 4]}) == {"a": pytest.approx(7 / 3)}


def test_one_out_of_domain_vote_makes_the_score_infinite():
    assert mean_opinion_scores({"a": [1, 1, OUT_OF_DOMAIN]})["a"] == math.inf


def test_unrated_images_are_left_out():
    assert mean_opinion_scores({"a": [], "b": [3]}) == {"b": 3.0}


@pytest.mark.parametrize("bad", [0, 6, 2.5, -1, float("nan")])
def test_ratings_off_the_scale_are_refused(bad):
    with pytest.raises(ValueError):
        mean_opinion_scores({"a": [bad]})


def test_selects_the_n4_lowest_with_ties_by_id():
    scores = {"c": 1.0, "b": 1.0, "a": 2.0, "d": 5.0}
    assert lowest_scores(scores, 3) == ["b", "c", "a"]


def test_vetoed_images_are_never_selected():
    scores = {"a": math.inf, "b": 4.0}
    assert lowest_scores(scores, 2) == ["b"]
    assert out_of_domain(scores) == {"a"}
