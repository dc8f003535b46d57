"""`segmad bench inference` with its TorchServe path: a private TorchServe 0.12 (Java 17) serving the card."""

from __future__ import annotations

import json

import pytest

from segmad.cli import main
from segmad.stack.services import torchserve_missing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(torchserve_missing()), reason=torchserve_missing() or "ok")]


def test_torchserve_answers_the_maps_of_in_process_and_is_timed_at_each_batch(capsys):
    assert main(["bench", "inference", "--size", "32", "--images", "4", "--batches", "1,3", "--repeats", "1",
                 "--threads", "1", "--format", "json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["torchserve_left_out"] is None
    assert set(figures["images_per_s"]) == {"in process", "handler", "torchserve"}
    assert all(rate > 0 for rate in figures["images_per_s"]["torchserve"].values())
    assert set(figures["images_per_s"]["torchserve"]) == {"1", "3"}  # 3 images per request: a pack, and a single one
    assert figures["equal_pixels"] == {"handler": 1.0, "torchserve": 1.0}
