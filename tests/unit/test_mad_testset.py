"""The unbiased test set T: from M minus S and OOD, ≤ 4 per main class, reproducible."""

from collections import Counter

import numpy as np

from segmad.mad import main_class, select_test_set


def test_main_class_is_the_largest_foreground_class():
    assert main_class(np.array([[0, 0, 0, 2], [1, 2, 2, 0]], np.uint8), num_classes=3) == 2


def test_main_class_of_a_map_without_foreground_is_zero():
    assert main_class(np.array([[0, 255]], np.uint8), num_classes=3) == 0


def test_main_class_ties_go_to_the_smaller_class():
    assert main_class(np.array([[3, 1]], np.uint8), num_classes=3) == 1


def candidates(n, classes):
    ids = [f"img{i:03d}" for i in range(n)]
    return ids, {image: i % classes + 1 for i, image in enumerate(ids)}


def test_at_most_per_class_images_of_each_main_class():
    ids, main = candidates(100, classes=5)
    chosen = select_test_set(ids, main, size=30, per_class=4, seed=1)
    assert len(chosen) == 20  # 5 classes × 4
    assert max(Counter(main[i] for i in chosen).values()) == 4


def test_excluded_images_never_enter():
    ids, main = candidates(60, classes=10)
    excluded = set(ids[:40])
    chosen = select_test_set(ids, main, exclude=excluded, size=30, seed=2)
    assert not excluded & set(chosen) and len(chosen) == 20


def test_size_caps_the_set_and_it_is_reproducible_from_the_seed():
    ids, main = candidates(400, classes=20)
    first = select_test_set(ids, main, size=30, seed=3)
    assert len(first) == 30 and first == sorted(first)
    assert first == select_test_set(list(reversed(ids)), main, size=30, seed=3)
    assert first != select_test_set(ids, main, size=30, seed=4)
