"""The trainer against a real TorchServe 0.12: v{N} archived and registered beside v0, made the default, evaluated
over HTTP, and a retried round registers nothing twice."""

from __future__ import annotations

import pytest

from segmad.adapters.torchserve import TorchServeSegmenter
from segmad.adapters.torchserve_management import Management
from segmad.adapters.torchserve_release import TorchServeRelease
from segmad.trainer import training
from segmad.trainer.training import train_round
from segmad.stack.services import torchserve_missing
from tests.integration.test_torchserve import torchserve  # noqa: F401  (the fixture)
from tests.unit.test_trainer import ARCH, CONFIG, make_ports

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(torchserve_missing()), reason=torchserve_missing() or "ok")]


def test_a_trained_round_is_served_by_torchserve_as_the_targets_default(torchserve, tmp_path):  # noqa: F811
    inference, management_url, store = torchserve
    management = Management(management_url)
    ports = make_ports(tmp_path)
    serving = TorchServeRelease(management, store)
    for name, arch in ARCH.items():  # the operator published v0 of the target and the competitor
        serving.release(name, "v0", training._load(ports, ports.catalog.model_version(name, "v0"), 3), arch, 3, 32)
    # The ports bootstrap builds for SEGMAD_TORCHSERVE_URL, the archives written where TorchServe reads them.
    ports.segmenter = TorchServeSegmenter(f"{inference}?management={management_url}")
    ports.release = serving
    try:
        assert train_round(ports, 1, CONFIG).version == "v1"
        assert {("target", "v0"), ("target", "v1")} <= set(management.models())
        assert management.default_version("target") == "v1"
        assert ("target", "v1", "t0") in {(e.model, e.version, e.split) for e in ports.catalog.evaluations(1)}
        ports.catalog.set_round_state(1, "training")  # as if the event came again before the round was done
        train_round(ports, 1, CONFIG)
        assert [v["modelVersion"] for v in management.versions("target")].count("v1") == 1
    finally:
        ports.close()
