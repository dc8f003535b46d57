"""Training and fine-tuning recipes on tiny data."""

import numpy as np
import pytest
import torch

from segmad.models import build
from segmad.models.train import FinetuneConfig, TrainConfig, dataset_miou, finetune, train

pytestmark = pytest.mark.usefixtures("one_thread")


def squares(n, seed, size=32):
    """Images with one bright square of class 1 or 2 (red or green) on a dark background."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, (n, size, size, 3), dtype=np.uint8)
    masks = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        y, x, cls = *rng.integers(0, size - 12, 2), rng.integers(1, 3)
        images[i, y:y + 12, x:x + 12, cls - 1] = 230
        masks[i, y:y + 12, x:x + 12] = cls
    return images, masks


def fresh_unet(seed=0):
    torch.manual_seed(seed)
    return build("unet", num_classes=2)


def tiny_config(**overrides):
    return TrainConfig(**{"epochs": 4, "batch_size": 4, "lr": 0.05, "seed": 0, **overrides})


def test_training_lowers_the_loss():
    history = train(fresh_unet(), *squares(8, seed=0), tiny_config(), progress=False)
    assert history["loss"][-1] < history["loss"][0]
    assert history["steps"] == 4 * 2


def test_training_ignores_pixels_labelled_255():
    images, masks = squares(8, seed=0)
    masks[:] = 255
    model = fresh_unet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, images, masks, tiny_config(epochs=1, weight_decay=0.0, momentum=0.0), progress=False)
    # no labelled pixel: cross-entropy has no gradient, so the weights stay (BN buffers do move)
    assert all(torch.equal(before[k], v) for k, v in model.named_parameters())


def test_training_is_deterministic_for_a_seed():
    data = squares(8, seed=0)
    a, b = fresh_unet(), fresh_unet()
    train(a, *data, tiny_config(epochs=2), progress=False)
    train(b, *data, tiny_config(epochs=2), progress=False)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_training_differs_between_seeds():
    data = squares(8, seed=0)
    a, b = fresh_unet(), fresh_unet()
    train(a, *data, tiny_config(epochs=2, seed=0), progress=False)
    train(b, *data, tiny_config(epochs=2, seed=1), progress=False)
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_finetune_returns_the_grid_lr_with_the_best_t0_miou():
    s0, s, t0 = squares(8, seed=0), squares(4, seed=1), squares(6, seed=2)
    model = fresh_unet()
    train(model, *s0, tiny_config(epochs=1), progress=False)
    config = FinetuneConfig(epochs=2, batch_size=2, lr_grid=(1e-4, 1e-2, 5e-2), seed=0)
    tuned, history = finetune(model, *s, *s0, *t0, config, progress=False)
    by_lr = history["t0_miou_by_lr"]
    assert set(by_lr) == {1e-4, 1e-2, 5e-2}
    assert history["lr"] == max(by_lr, key=by_lr.get)
    assert dataset_miou(tuned, *t0) == pytest.approx(by_lr[history["lr"]])


def test_finetune_leaves_the_given_model_untouched():
    s0, s, t0 = squares(4, seed=0), squares(2, seed=1), squares(2, seed=2)
    model = fresh_unet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    finetune(model, *s, *s0, *t0, FinetuneConfig(epochs=1, batch_size=2, lr_grid=(0.05,)), progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_finetune_takes_epochs_times_batches_of_s_steps_capped_by_max_steps():
    s0, s, t0 = squares(4, seed=0), squares(5, seed=1), squares(2, seed=2)
    config = FinetuneConfig(epochs=3, batch_size=2, lr_grid=(0.01,))
    assert finetune(fresh_unet(), *s, *s0, *t0, config, progress=False)[1]["steps"] == 3 * 3
    capped = FinetuneConfig(epochs=3, batch_size=2, lr_grid=(0.01,), max_steps=4)
    assert finetune(fresh_unet(), *s, *s0, *t0, capped, progress=False)[1]["steps"] == 4


def test_paper_preset_is_the_papers_recipe():
    config = FinetuneConfig.paper()
    assert (config.batch_size, config.epochs, config.lr_grid) == (2, 80, (1e-5, 5e-5, 1e-4))
    assert (config.momentum, config.weight_decay, config.poly_power) == (0.9, 5e-4, 0.9)


def test_demo_preset_takes_a_few_hundred_steps_at_most_and_mostly_s0_images():
    config = FinetuneConfig.demo()
    assert config.max_steps is not None and config.max_steps <= 300 and len(config.lr_grid) >= 2
    assert config.s0_batch_size > 3 * config.batch_size  # batch-norm statistics stay in-domain


def test_finetune_refuses_an_empty_counterexample_set():
    s0, t0 = squares(2, seed=0), squares(2, seed=2)
    empty = (s0[0][:0], s0[1][:0])
    with pytest.raises(ValueError, match="counterexamples"):
        finetune(fresh_unet(), *empty, *s0, *t0, FinetuneConfig(epochs=1, batch_size=2, lr_grid=(0.01,)), progress=False)
