"""Streaming top-n3 heaps: equal a brute-force sort, merge like the union, idempotent pushes."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from segmad.mad import CandidateHeaps, HeapKey, Member, SizeBounds, merge_members

BOUNDS = SizeBounds(lower=np.array([0.0, 0.0, 0.2]), upper=np.array([1.0, 1.0, 0.6]))


def fr(*fg):
    return np.array([1 - sum(fg), *fg])


def test_keeps_the_n3_largest_distances_best_first():
    heaps = CandidateHeaps(n3=2, bounds=BOUNDS)
    for image, d in [("a", 0.1), ("b", 0.9), ("c", 0.5)]:
        heaps.push("g", "target", image, d, fr(0.3, 0.0))
    [(key, members)] = list(heaps.items())
    assert key == HeapKey("g", 1, "target")
    assert [(m.image_id, m.distance) for m in members] == [("b", 0.9), ("c", 0.5)]


def test_ties_keep_the_smaller_image_id():
    heaps = CandidateHeaps(n3=1, bounds=BOUNDS)
    heaps.push("g", "target", "b", 0.5, fr(0.3, 0.0))
    heaps.push("g", "target", "a", 0.5, fr(0.3, 0.0))
    heaps.push("g", "target", "c", 0.5, fr(0.3, 0.0))
    assert heaps.candidates() == ["a"]


def test_image_outside_the_size_band_is_not_a_member():
    heaps = CandidateHeaps(n3=5, bounds=BOUNDS)
    assert heaps.push("g", "target", "x", 0.9, fr(0.0, 0.1)) == []  # class 2 below p_2, class 1 absent
    assert heaps.candidates() == []


def test_pair_push_partitions_once_by_each_map():
    heaps = CandidateHeaps(n3=5, bounds=BOUNDS)
    changed = heaps.push_pair("g", "x", 0.4, target_fractions=fr(0.5, 0.0), competitor_fractions=fr(0.0, 0.3))
    assert changed == [HeapKey("g", 1, "target"), HeapKey("g", 2, "competitor")]


def test_pushing_the_same_image_twice_changes_nothing():
    heaps = CandidateHeaps(n3=5, bounds=BOUNDS)
    assert heaps.push("g", "target", "x", 0.4, fr(0.5, 0.0))
    assert heaps.push("g", "target", "x", 0.4, fr(0.5, 0.0)) == []
    assert heaps.to_records()[0]["members"] == [{"image": "x", "distance": 0.4}]


def test_candidates_are_deduplicated_across_heaps_and_sorted():
    heaps = CandidateHeaps(n3=5, bounds=BOUNDS)
    heaps.push_pair("g", "y", 0.4, fr(0.3, 0.3), fr(0.3, 0.3))
    heaps.push_pair("h", "x", 0.4, fr(0.3, 0.0), fr(0.3, 0.0))
    heaps.push_pair("h", "y", 0.2, fr(0.3, 0.0), fr(0.3, 0.0))
    assert heaps.candidates() == ["x", "y"]


def test_records_round_trip():
    heaps = CandidateHeaps(n3=3, bounds=BOUNDS)
    heaps.push_pair("g", "x", 0.4, fr(0.3, 0.3), fr(0.3, 0.0))
    again = CandidateHeaps.from_records(heaps.to_records(), n3=3, bounds=BOUNDS)
    assert again.to_records() == heaps.to_records()


def test_n3_must_be_positive():
    with pytest.raises(ValueError):
        CandidateHeaps(n3=0, bounds=BOUNDS)


# A random stream: (competitor, image, distance, target fractions, competitor fractions).
# Distances come from a small set so ties are common.
streams = st.lists(
    st.tuples(
        st.sampled_from(["g", "h"]),
        st.integers(0, 40),
        st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 1.0]),
        st.tuples(st.sampled_from([0.0, 0.1, 0.3, 0.5]), st.sampled_from([0.0, 0.1, 0.3, 0.5])),
        st.tuples(st.sampled_from([0.0, 0.1, 0.3, 0.5]), st.sampled_from([0.0, 0.1, 0.3, 0.5])),
    ),
    max_size=80,
    unique_by=lambda t: (t[0], t[1]),  # one distance per (competitor, image)
)


def build(stream, n3):
    heaps = CandidateHeaps(n3=n3, bounds=BOUNDS)
    for competitor, image, d, tf, cf in stream:
        heaps.push_pair(competitor, f"img{image:03d}", d, fr(*tf), fr(*cf))
    return heaps


def brute_force(stream, n3):
    records = []
    for competitor in ["g", "h"]:
        for k in [1, 2]:
            for partition, which in [("target", 3), ("competitor", 4)]:
                inside = [
                    (f"img{t[1]:03d}", t[2])
                    for t in stream
                    if t[0] == competitor
                    and t[which][k - 1] > 0
                    and BOUNDS.lower[k] <= t[which][k - 1] <= BOUNDS.upper[k]
                ]
                top = sorted(inside, key=lambda x: (-x[1], x[0]))[:n3]
                if top:
                    records.append(
                        {
                            "competitor": competitor,
                            "class": k,
                            "partition_by": partition,
                            "members": [{"image": i, "distance": d} for i, d in top],
                        }
                    )
    return records


@settings(max_examples=200, deadline=None)
@given(streams, st.integers(1, 6))
def test_streaming_heaps_equal_a_brute_force_sort(stream, n3):
    assert build(stream, n3).to_records() == brute_force(stream, n3)


@settings(max_examples=200, deadline=None)
@given(streams, st.integers(1, 6), st.integers(0, 80))
def test_merging_heaps_of_disjoint_streams_equals_the_heaps_of_the_union(stream, n3, cut):
    left, right = build(stream[:cut], n3), build(stream[cut:], n3)
    left.merge(right)
    assert left.to_records() == build(stream, n3).to_records()


@settings(max_examples=100, deadline=None)
@given(streams, st.integers(1, 6), st.randoms(use_true_random=False))
def test_order_of_the_stream_does_not_matter(stream, n3, rnd):
    shuffled = list(stream)
    rnd.shuffle(shuffled)
    assert build(shuffled, n3).to_records() == build(stream, n3).to_records()


@settings(max_examples=200, deadline=None)
@given(streams, st.integers(1, 6), st.integers(0, 80), st.integers(0, 80))
def test_merging_overlapping_views_of_a_heap_gives_the_heap_of_their_union(stream, n3, a, b):
    # Two workers' views of one heap share what both loaded from the catalog (the overlap).
    left, right, union = build(stream[:max(a, b)], n3), build(stream[min(a, b):], n3), build(stream, n3)
    left_heaps, right_heaps = dict(left.items()), dict(right.items())
    for key, members in union.items():
        assert merge_members(n3, left_heaps.get(key, []), right_heaps.get(key, [])) == members
        assert merge_members(n3, right_heaps.get(key, []), left_heaps.get(key, [])) == members


def test_merging_keeps_one_copy_of_an_image_and_the_tie_break_of_the_heaps():
    merged = merge_members(2, [Member("b", 0.5), Member("c", 0.9)], [Member("c", 0.9), Member("a", 0.5)])
    assert merged == [Member("c", 0.9), Member("a", 0.5)]


@settings(max_examples=200, deadline=None)
@given(streams, st.integers(1, 6))
def test_pushing_an_image_with_all_its_competitors_is_pushing_each_pair(stream, n3):
    # one image's scores against every competitor at once (as select and the workers push them)
    by_image: dict[int, list] = {}
    for competitor, image, d, tf, cf in stream:
        by_image.setdefault(image, []).append((competitor, d, tf, cf))
    pairs, images = CandidateHeaps(n3=n3, bounds=BOUNDS), CandidateHeaps(n3=n3, bounds=BOUNDS)
    for image, scores in by_image.items():
        target = fr(*scores[0][2])  # the target's map is one per image
        expected = [key for c, d, _, cf in scores for key in pairs.push_pair(c, f"img{image:03d}", d, target, fr(*cf))]
        changed = images.push_image(f"img{image:03d}", target, [(c, d, fr(*cf)) for c, d, _, cf in scores])
        assert changed == expected
    assert images.to_records() == pairs.to_records()
    assert images.push_image("img999", fr(0.3, 0.3), []) == []
