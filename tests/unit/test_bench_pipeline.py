"""`segmad bench pipeline`'s models and its in-process run (the stack run is measured, not unit-tested)."""

from __future__ import annotations

import numpy as np
import pytest

from segmad.bench.pipeline_models import COMPETITOR_ARCHS, TARGET_ARCH, calibrated, pipeline_models, zoo_checkpoint
from segmad.bench.pipeline_runs import Pool, embedded
from segmad.cli import main
from segmad.mad import class_fractions, size_bounds
from segmad.models.predict import predict
from segmad.world import WorldConfig, stack

WORLD = WorldConfig(num_classes=3, size=32)
C = WORLD.num_classes


def images(count: int = 16) -> np.ndarray:
    return stack(WORLD, "pool", range(count))[0]


def test_an_untrained_network_with_statistics_from_the_pool_labels_images_differently():
    maps = predict(calibrated("fcn8s", C, images()), images())
    fractions = np.stack([class_fractions(m, C) for m in maps])
    assert len(np.unique(maps)) > 1 and fractions.std(axis=0).max() > 0.01


def test_without_a_zoo_the_models_are_untrained_target_first(tmp_path):
    models = pipeline_models(tmp_path / "no-zoo", C, images(), prefix="b-")
    assert [(m.name, m.arch, m.role, m.trained) for m in models] == [
        ("b-target", TARGET_ARCH, "target", False)] + [(f"b-{a}", a, "competitor", False) for a in COMPETITOR_ARCHS]


def test_a_zoo_with_every_architecture_and_the_same_classes_is_used(tmp_path):
    for model in pipeline_models(tmp_path / "no-zoo", C, images()):
        zoo_checkpoint(model, C, WORLD.size, tmp_path / "zoo" / f"{model.arch}.pt")
    assert all(m.trained for m in pipeline_models(tmp_path / "zoo", C, images()))
    assert not any(m.trained for m in pipeline_models(tmp_path / "zoo", C + 1, images()))


def test_the_in_process_run_mines_the_pool_and_times_it(tmp_path):
    pool_images = images(24)
    masks = stack(WORLD, "s0", range(20))[1]
    bounds = size_bounds(np.stack([class_fractions(m, C) for m in masks]), C)
    models = pipeline_models(tmp_path / "no-zoo", C, pool_images)
    result = embedded(models, Pool([f"p-{i}" for i in range(24)], pool_images, bounds, 2, C, WORLD.size, 8))
    assert result["seconds"] > 0 and result["images_per_s"] == 24 / result["seconds"] and result["candidates"] > 0


def test_a_pool_of_no_images_is_a_user_error(capsys):
    assert main(["bench", "pipeline", "--images", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_the_summary_is_the_median_run_by_ratio_with_every_runs_rates():
    from segmad.bench.pipeline import summary

    def pair(stack_rate, local_rate):
        return {"stack": {"images_per_s": stack_rate}, "in_process": {"images_per_s": local_rate},
                "ratio": stack_rate / local_rate}

    runs = [pair(60, 120), pair(90, 100), pair(70, 100)]  # ratios 0.5, 0.9, 0.7
    figures = summary(runs)
    assert figures["ratio"] == 0.7 and figures["stack"] == {"images_per_s": 70}
    assert figures["ratios"] == [0.5, 0.9, 0.7]
    assert figures["images_per_s"] == {"stack": [60, 90, 70], "in_process": [120, 100, 100]}
    assert abs(figures["overhead_ms_per_image"] - 1000 * (1 / 70 - 1 / 100)) < 1e-9
    assert summary(runs[:2])["ratio"] == 0.9  # of an even count, the upper middle


@pytest.mark.parametrize("size", ["0", "40", "100"])
def test_a_size_that_is_no_multiple_of_16_is_a_user_error(capsys, size):
    assert main(["bench", "pipeline", "--size", size]) == 2
    assert "multiple of 16" in capsys.readouterr().err


def test_the_pool_is_drawn_at_the_size_asked_for(tmp_path):
    from argparse import Namespace

    from segmad.bench.pipeline import _pool

    models, pool = _pool(Namespace(images=3, size=96, n3=2, batch_size=8), tmp_path / "no-zoo", lambda line: None)
    assert pool.images.shape == (3, 96, 96, 3) and pool.input_size == 96 and len(models) == 3
