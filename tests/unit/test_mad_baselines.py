"""Baselines with the same budget: entropy (highest first) and random."""

import numpy as np
import pytest

from segmad.mad import mean_entropy, select_by_entropy, select_random


def test_uniform_softmax_has_entropy_log_l_and_one_hot_zero():
    uniform = np.full((4, 2, 2), 0.25)
    one_hot = np.zeros((4, 2, 2))
    one_hot[1] = 1.0
    assert mean_entropy(np.stack([uniform, one_hot])) == pytest.approx([np.log(4), 0.0])


def test_entropy_selects_the_highest_with_ties_by_id():
    assert select_by_entropy({"a": 0.1, "c": 0.9, "b": 0.9}, 2) == ["b", "c"]


def test_random_is_reproducible_and_within_budget():
    ids = [f"i{k}" for k in range(50)]
    first = select_random(ids, 10, seed=7)
    assert len(set(first)) == 10 and set(first) <= set(ids)
    assert first == select_random(reversed(ids), 10, seed=7)
    assert select_random(ids[:3], 10) == sorted(ids[:3])
