"""The study's selectors as pure functions of shared predictions and truth, on hand-made pools."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from segmad import world
from segmad.mad import SizeBounds
from segmad.study.grid import SMALL, StudyConfig, cells
from segmad.study.selectors import SELECT, Context, precision_at_k
from segmad.study.shared import Shared
from segmad.study.stats import budget_to_reach, interval

# Every image holds class 1 inside its size band, so each (competitor, class 1, partition) heap sees all of D.
BOUNDS = SizeBounds(np.array([0.0, 0.0]), np.array([1.0, 1.0]))


def pool(true_miou, distances, in_domain=None, entropy=None, seed=0) -> Shared:
    n = len(true_miou)
    distances = np.atleast_2d(np.asarray(distances, dtype=float))
    fractions = np.tile([0.7, 0.3], (n, 1))
    return Shared(seed, [f"pool-{i:06d}" for i in range(n)],
                  np.ones(n, bool) if in_domain is None else np.asarray(in_domain),
                  np.asarray(true_miou, dtype=float), np.zeros(n) if entropy is None else np.asarray(entropy, float),
                  distances, fractions, np.tile(fractions, (len(distances), 1, 1)),
                  tuple(f"g{j}" for j in range(len(distances))), BOUNDS, {"wild": 0.5, "wild_shifted": 0.3, "t0": 0.8})


def config(**overrides) -> StudyConfig:
    return StudyConfig(**{"n3": 100, "budgets": (2,), "ablation_budget": 2, "rating_noise": 0.0, **overrides})


def test_mad_labels_the_images_of_m_with_the_lowest_mean_opinion_score():
    ctx = Context(pool([0.9, 0.05, 0.8, 0.1, 0.95, 0.7], [0.5] * 6), config())
    picked = SELECT["mad"](ctx, 2)
    assert sorted(picked.chosen) == [1, 3]
    assert picked.candidates == 6 and picked.ratings == 6 * 3
    assert picked.hours == pytest.approx((18 * 7 + 2 * 135) / 3600)


def test_m_holds_each_heaps_top_n3_and_no_more():
    # g0 ranks images 0, 1 highest; g1 ranks images 4, 5: M at n3 = 2 is their union.
    distances = [[0.9, 0.8, 0.1, 0.1, 0.2, 0.3], [0.1, 0.1, 0.2, 0.3, 0.9, 0.8]]
    ctx = Context(pool([0.5] * 6, distances), config(n3=2, budgets=(1,), ablation_budget=1))
    assert ctx.candidates(2) == [0, 1, 4, 5]
    assert ctx.candidates(2, ["g0"]) == [0, 1]
    assert ctx.candidates(1) == [0, 4]


def test_n3_grows_with_the_budget_beyond_the_papers_point():
    c = StudyConfig(n3=25)
    assert (c.n3_for(25), c.n3_for(100), c.n3_for(400)) == (25, 25, 100)


def test_mad_1_mines_with_one_competitor_only():
    distances = [[0.9, 0.8, 0.1, 0.1], [0.1, 0.1, 0.9, 0.8]]
    ctx = Context(pool([0.5] * 4, distances), config(n3=2, budgets=(1,), ablation_budget=1))
    assert SELECT["mad-1"](ctx, 1).candidates == 2 and SELECT["mad"](ctx, 1).candidates == 4


def test_without_ratings_m_is_ranked_by_mean_distance():
    distances = [[0.2, 0.9, 0.5, 0.7], [0.4, 0.7, 0.5, 0.1]]
    ctx = Context(pool([0.5] * 4, distances), config())
    assert SELECT["mad-no-ratings"](ctx, 2).ranking == [1, 2, 3, 0]
    assert SELECT["mad-no-ratings"](ctx, 2).ratings == 0


def test_without_subgroups_the_whole_pool_is_ranked_by_mean_distance():
    ctx = Context(pool([0.5] * 4, [[0.2, 0.9, 0.5, 0.7]]), config(n3=1, budgets=(1,), ablation_budget=1))
    assert SELECT["mad-no-subgroups"](ctx, 2).chosen == [1, 3]
    assert SELECT["mad-no-ratings"](ctx, 2).chosen == [1]  # M at n3 = 1 holds one image


def test_adaptive_rating_asks_fewer_ratings_for_the_same_clear_failures():
    true_miou = [0.0, 0.02, 1.0, 0.98, 0.97, 0.99, 0.96, 1.0]
    ctx = Context(pool(true_miou, [0.5] * 8), config())
    full, adaptive = SELECT["mad"](ctx, 2), SELECT["mad-adaptive"](ctx, 2)
    assert sorted(adaptive.chosen) == sorted(full.chosen) == [0, 1]
    assert len(true_miou) <= adaptive.ratings < full.ratings


def test_spread_takes_turns_over_the_kinds_of_failure_that_mad_leaves_to_one():
    # g0 disagrees most on the three worst images, g1 on three milder failures: MAD's two lowest MOS are both
    # g0's; spread takes g0's worst, then g1's worst, then g0's next.
    distances = [[0.9, 0.8, 0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.9, 0.8, 0.7]]
    ctx = Context(pool([0.05, 0.06, 0.07, 0.3, 0.35, 0.4], distances), config(n3=3))
    assert sorted(SELECT["mad"](ctx, 2).chosen) == [0, 1]
    spread = SELECT["mad-spread"](ctx, 3)
    assert spread.chosen == [0, 3, 1] and sorted(spread.ranking) == list(range(6))
    assert spread.ratings == SELECT["mad"](ctx, 3).ratings and spread.candidates == 6


def test_dedup_skips_an_image_that_mining_sees_as_a_copy_of_one_already_chosen():
    # Images 0 and 1 look alike to mining (same fractions, distances within 0.02); 2 differs.
    distances = [[0.90, 0.91, 0.60, 0.1], [0.50, 0.51, 0.90, 0.1]]
    ctx = Context(pool([0.05, 0.06, 0.2, 0.9], distances), config(n3=4))
    assert SELECT["mad"](ctx, 2).chosen == [0, 1]
    dedup = SELECT["mad-dedup"](ctx, 2)
    assert dedup.chosen == [0, 2] and dedup.ranking[:3] == [0, 2, 1]


def test_worst_ranks_in_domain_images_by_true_miou_and_never_out_of_domain_ones():
    ctx = Context(pool([0.3, 0.0, 0.1, 0.9], [0.5] * 4, in_domain=[True, False, True, True]), config())
    assert SELECT["worst"](ctx, 2).ranking == [2, 0, 3]


def test_entropy_ranks_the_pool_by_the_targets_entropy():
    ctx = Context(pool([0.5] * 4, [0.5] * 4, entropy=[0.1, 0.9, 0.4, 0.2]), config())
    assert SELECT["entropy"](ctx, 2).ranking == [1, 2, 3, 0]


def test_random_ranking_is_a_permutation_of_the_pool_so_its_last_precision_is_the_failure_rate():
    true_miou = np.linspace(0, 1, 40)
    ctx = Context(pool(true_miou, np.full(40, 0.5)), config())
    picked = SELECT["random"](ctx, 5)
    assert sorted(picked.ranking) == list(range(40)) and len(set(picked.chosen)) == 5
    failures = ctx.shared.failures(0.5)
    assert precision_at_k(picked.ranking, failures)[-1] == pytest.approx(failures.mean())


def test_the_failures_ceiling_labels_exactly_the_true_failures():
    ctx = Context(pool([0.1, 0.6, 0.4, 0.2], [0.5] * 4, in_domain=[True, True, True, False]), config())
    assert sorted(SELECT["ceiling-failures"](ctx, 0).chosen) == [0, 2]
    assert SELECT["ceiling-pool"](ctx, 0).chosen == [0, 1, 2, 3]


def test_precision_at_k_is_the_running_share_of_failures():
    assert precision_at_k([2, 0, 1], np.array([True, False, True])).tolist() == [1.0, 1.0, pytest.approx(2 / 3)]


def test_t_interval_over_three_seeds():
    stat = interval([1.0, 2.0, 3.0])
    assert stat["mean"] == 2.0 and stat["hi"] - 2.0 == pytest.approx(4.303 / math.sqrt(3))
    assert math.isnan(interval([1.0])["lo"])


def test_budget_to_reach_interpolates_between_the_grids_budgets():
    assert budget_to_reach([25, 100, 400], [0.01, 0.03, 0.05], 0.04) == pytest.approx(250)
    assert budget_to_reach([25, 100], [0.01, 0.02], 0.04) is None


def test_the_small_grid_has_every_selector_and_the_ceilings_once_per_seed():
    grid = cells(StudyConfig(**SMALL))
    assert len(grid) == 2 * (4 * 2 + 7 + 2)
    assert sum(c.selector == "ceiling-pool" for c in grid) == 2


def test_the_default_world_is_unchanged_by_the_redundancy_option():
    # Digest of pool samples 0..19 made by the world before the option existed.
    digest = hashlib.sha256()
    for i in range(20):
        one = world.sample(world.WorldConfig(pool_size=300), "pool", i)
        digest.update(one.image.tobytes() + one.mask.tobytes())
    assert digest.hexdigest() == "3c7950a1e2056217a83f646b7198ee2bbd2b313f39a3342b8bd0234093776f25"


def test_a_redundant_pool_repeats_its_scenes_as_near_duplicates_and_leaves_w_alone():
    plain = world.WorldConfig(size=32, pool_size=40)
    redundant = world.WorldConfig(size=32, pool_size=40, pool_scenes=4)
    first, again = world.sample(redundant, "pool", 1), world.sample(redundant, "pool", 5)
    assert np.array_equal(world.sample(plain, "pool", 1).image, first.image)  # the scene's first frame
    assert not np.array_equal(first.image, again.image)
    assert first.shifts == again.shifts and (first.mask != 255).sum() == (again.mask != 255).sum()
    assert np.array_equal(world.sample(plain, "wild", 5).image, world.sample(redundant, "wild", 5).image)
