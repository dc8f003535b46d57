"""The synthetic world: samples are pure functions of (seed, split, index) with a known truth."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from segmad import world
from segmad.world import CLASS_NAMES, SHIFT_FACTORS, SPLITS, WorldConfig

SMALL = WorldConfig(size=32, s0_size=20, t0_size=20, pool_size=2000, wild_size=200)


def digest(one: world.Sample) -> str:
    return hashlib.sha256(one.image.tobytes() + one.mask.tobytes()).hexdigest()


def test_same_seed_split_and_index_give_identical_sample():
    first, again = world.sample(SMALL, "pool", 7), world.sample(SMALL, "pool", 7)
    assert np.array_equal(first.image, again.image) and np.array_equal(first.mask, again.mask)
    assert (first.shifts, first.in_domain) == (again.shifts, again.in_domain)


def test_sample_does_not_depend_on_what_was_generated_before():
    in_order = [digest(s) for s in world.samples(SMALL, "s0", 0, 5)]
    backwards = [digest(world.sample(SMALL, "s0", i)) for i in reversed(range(5))]
    assert in_order == backwards[::-1]


def test_sample_is_the_same_in_another_process():
    code = ("import hashlib; from segmad import world; "
            "s = world.sample(world.WorldConfig(size=32, pool_size=2000), 'pool', 11); "
            "print(hashlib.sha256(s.image.tobytes() + s.mask.tobytes()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == digest(world.sample(SMALL, "pool", 11))


def test_different_seeds_give_different_images():
    other = WorldConfig(size=32, seed=1, s0_size=20)
    assert digest(world.sample(SMALL, "s0", 0)) != digest(world.sample(other, "s0", 0))


def test_different_splits_give_different_images_at_the_same_index():
    assert len({digest(world.sample(SMALL, split, 3)) for split in SPLITS}) == len(SPLITS)


def test_pool_and_wild_share_no_image():
    pool = {digest(s) for s in world.samples(SMALL, "pool", 0, 200)}
    wild = {digest(s) for s in world.samples(SMALL, "wild")}
    assert not pool & wild


def test_image_is_rgb_uint8_and_mask_uint8_of_config_size():
    one = world.sample(SMALL, "t0", 0)
    assert (one.image.shape, one.image.dtype) == ((32, 32, 3), np.uint8)
    assert (one.mask.shape, one.mask.dtype) == ((32, 32), np.uint8)


def test_image_id_names_split_and_index():
    assert world.sample(SMALL, "pool", 123).image_id == "pool-000123"


def test_mask_values_are_classes_or_ignore():
    masks = world.stack(SMALL, "pool", range(300))[1]
    assert set(np.unique(masks)) <= set(range(SMALL.num_classes + 1)) | {255}


def test_training_masks_show_every_class():
    masks = world.stack(WorldConfig(size=32), "s0", range(60))[1]
    assert set(np.unique(masks)) == set(range(len(CLASS_NAMES)))


def test_fewer_classes_keep_masks_within_them():
    config = WorldConfig(size=32, num_classes=3, pool_size=2000)
    assert set(np.unique(world.stack(config, "pool", range(300))[1])) <= {0, 1, 2, 3, 255}


def test_out_of_domain_samples_have_all_ignore_masks_and_one_shift():
    ood = [s for s in world.samples(SMALL, "pool", 0, 300) if not s.in_domain]
    assert ood
    assert all((s.mask == 255).all() and s.shifts == ("out_of_domain",) for s in ood)


def test_in_domain_masks_have_no_ignore_pixels():
    kept = [s for s in world.samples(SMALL, "pool", 0, 300) if s.in_domain]
    assert not any((s.mask == 255).any() for s in kept)


def test_training_and_test_splits_have_no_shifts():
    for split in ("s0", "t0"):
        assert all(s.shifts == () and s.in_domain for s in world.samples(SMALL, split))


def test_shifted_images_have_one_or_two_known_factors():
    shifted = [s for s in world.samples(SMALL, "pool", 0, 300) if s.in_domain and s.shifts]
    assert shifted
    assert all(1 <= len(s.shifts) <= 2 and set(s.shifts) <= set(SHIFT_FACTORS) for s in shifted)


def test_pool_shifted_and_out_of_domain_fractions_follow_config():
    drawn = list(world.samples(SMALL, "pool"))  # 2,000 samples
    ood = np.mean([not s.in_domain for s in drawn])
    shifted = np.mean([s.in_domain and bool(s.shifts) for s in drawn])
    # binomial standard errors at n=2000: ~0.005 (ood) and ~0.008 (shifted); allow ~4 of them
    assert abs(ood - SMALL.ood_fraction) < 0.02
    assert abs(shifted - SMALL.shifted_fraction) < 0.035


def test_stack_returns_arrays_of_the_requested_samples():
    images, masks = world.stack(SMALL, "wild", [5, 2])
    assert images.shape == (2, 32, 32, 3) and masks.shape == (2, 32, 32)
    assert np.array_equal(images[1], world.sample(SMALL, "wild", 2).image)


def test_samples_stop_at_the_end_of_the_split():
    assert [s.image_id for s in world.samples(SMALL, "t0", start=18)] == ["t0-000018", "t0-000019"]


def test_split_size_reads_the_config():
    assert [world.split_size(SMALL, s) for s in SPLITS] == [20, 20, 2000, 200]


def test_index_outside_the_split_is_refused():
    with pytest.raises(IndexError):
        world.sample(SMALL, "t0", 20)


def test_unknown_split_is_refused():
    with pytest.raises(ValueError):
        world.sample(SMALL, "train", 0)


def test_class_names_start_with_background_and_count_the_classes():
    assert CLASS_NAMES[0] == "background" and len(CLASS_NAMES) == WorldConfig().num_classes + 1
