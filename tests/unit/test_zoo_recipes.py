"""Which recipe trains each zoo model."""

from segmad.models import ARCHITECTURES, TARGET_ARCH
from segmad.models.train import TrainConfig
from segmad.zoo import recipe


def test_the_target_trains_longer_than_every_competitor():
    target = recipe(TARGET_ARCH).epochs
    assert all(recipe(arch).epochs < target for arch in ARCHITECTURES if arch != TARGET_ARCH)


def test_recipe_carries_the_seed_and_an_epochs_override():
    config = recipe("unet", seed=7, epochs=2)
    assert (config.seed, config.epochs) == (7, 2)
    assert (config.lr, config.batch_size) == (TrainConfig().lr, TrainConfig().batch_size)
