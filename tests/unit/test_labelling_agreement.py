"""Krippendorff's alpha, ordinal metric."""

import pytest

from segmad.labelling.agreement import ordinal_alpha


def test_hand_computed_example():
    # Units (1,1), (1,2), (3,3): n1=3, n2=1, n3=2, n=6; o11=2, o12=o21=1, o33=2.
    # δ²12 = (4-2)² = 4, δ²13 = (6-2.5)² = 12.25, δ²23 = (3-1.5)² = 2.25.
    # Observed Σ o·δ² = 2·4 = 8; expected Σ n_c·n_k·δ² = 2·(3·4 + 6·12.25 + 2·2.25) = 180.
    # α = 1 - (n-1)·8/180 = 1 - 40/180 = 7/9.
    assert ordinal_alpha({"a": [1, 1], "b": [1, 2], "c": [3, 3]}) == pytest.approx(7 / 9)


def test_krippendorff_2011_reliability_data_gives_the_published_0_815():
    units = [[1, 1, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
             [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [5, 5, 5], [1, 1], [3]]
    assert ordinal_alpha(dict(enumerate(units))) == pytest.approx(0.815, abs=5e-4)


def test_perfect_agreement_is_one():
    assert ordinal_alpha({"a": [1, 1], "b": [4, 4]}) == 1.0


def test_undefined_without_two_values_to_compare():
    assert ordinal_alpha({"a": [3, 3], "b": [2]}) is None
