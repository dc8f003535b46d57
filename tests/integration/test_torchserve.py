"""The TorchServe segmenter against a real TorchServe 0.12 (Java 17) on free ports: the segmenter
contract, versions side by side with set-default, and agreement with the in-process zoo model."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from segmad.stack.process import free_ports
from segmad.stack.services import torchserve_missing
import pytest
import requests
import torch

from segmad.ports.segmenter import ModelRef
from segmad import world
from segmad.adapters.torchserve import TorchServeSegmenter
from segmad.adapters.torchserve_archive import ModelSpec
from segmad.codec import decode_png, encode_png
from segmad.models import build
from segmad.models.predict import predict
from segmad.adapters.torchserve_management import Management
from segmad.publish.service import publish
from segmad.world import CLASS_NAMES, WorldConfig
from segmad.zoo import store as zoo_store
from tests.unit.test_segmenter import red_detector
from tests.unit.test_segmenter_contract import SegmenterContract

REPO = Path(__file__).resolve().parents[2]
RED_SPEC = ModelSpec((32, 32), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), ("background", "red"))


pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(torchserve_missing()), reason=torchserve_missing() or "ok")]


@pytest.fixture(scope="module")
def torchserve(tmp_path_factory):
    """(inference URL, management URL, model store) of a private TorchServe."""
    home = tmp_path_factory.mktemp("torchserve")
    store = home / "model-store"
    store.mkdir()
    ports = free_ports(5)
    config = (REPO / "deploy" / "torchserve" / "config.properties").read_text()
    for default, port in zip((8080, 8081, 8082), ports):
        config = config.replace(f"127.0.0.1:{default}", f"127.0.0.1:{port}")
    # Its own gRPC ports too, so it runs beside another TorchServe (a `make up` stack).
    (home / "config.properties").write_text(config + "vmargs=-Xmx512m\n"
                                            f"grpc_inference_port={ports[3]}\ngrpc_management_port={ports[4]}\n")
    # A private TMPDIR keeps torchserve's pid file from colliding with a running `make up`.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(home), "LOG_LOCATION": str(home / "logs"),
           "METRICS_LOCATION": str(home / "logs")}
    command = [sys.executable, "-m", "ts.model_server", "--start", "--foreground", "--ncs",
               "--model-store", str(store), "--ts-config", str(home / "config.properties")]
    server = subprocess.Popen(command, cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                              start_new_session=True)
    inference, management = f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    try:
        _wait_ready(inference, server)
        yield inference, management, store
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the group: the Python launcher, Java and its workers
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()  # reaped, or the interpreter finds it still running at exit


def _wait_ready(url: str, server: subprocess.Popen, timeout_s: float = 40.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"torchserve exited with status {server.returncode}")
        try:
            if requests.get(f"{url}/ping", timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):  # still starting, or a loaded machine
            pass
        time.sleep(0.5)
    pytest.fail(f"torchserve did not answer /ping within {timeout_s} s")


def _script(module: torch.nn.Module, size: int, path: Path) -> Path:
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated in torch, not in TorchServe
        torch.jit.save(torch.jit.trace(module.eval(), torch.zeros(1, 3, size, size)), str(path))
    return path


@pytest.fixture(scope="module")
def served_red(torchserve, tmp_path_factory):
    """The contract's ("tiny", "1") red detector, published to TorchServe as a user's TorchScript module."""
    inference, management, store = torchserve
    module = _script(red_detector(), 32, tmp_path_factory.mktemp("red") / "red.pt")
    publish(Management(management), store, "tiny", "1", torchscript=module, spec=RED_SPEC, batch_size=4)
    return f"{inference}?management={management}"


class TestTorchServeSegmenter(SegmenterContract):
    @pytest.fixture
    def segmenter(self, served_red):
        segmenter = TorchServeSegmenter(served_red)
        yield segmenter
        segmenter.close()


def test_a_second_version_registers_beside_the_first_and_set_default_switches(torchserve, served_red, tmp_path):
    inference, management_url, store = torchserve
    management = Management(management_url)
    flipped = red_detector()
    with torch.no_grad():
        flipped.weight.neg_()
        flipped.bias.neg_()  # labels what is NOT red as class 1
    publish(management, store, "tiny", "2", torchscript=_script(flipped, 32, tmp_path / "v2.pt"), spec=RED_SPEC)
    assert {ModelRef("tiny", "1"), ModelRef("tiny", "2")} <= set(management.models())
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 255
    def default_label() -> int:
        return int(decode_png(requests.post(f"{inference}/predictions/tiny", data=encode_png(red)).content)[0, 0])

    assert default_label() == 1
    management.set_default("tiny", "2")
    assert default_label() == 0
    management.set_default("tiny", "1")


def test_label_maps_from_torchserve_equal_the_in_process_zoo_model(torchserve, tmp_path):
    """≥ 99.99 % of pixels agree with TorchSegmenter's maps on world-like images."""
    inference, management_url, store = torchserve
    torch.manual_seed(0)
    model = build("deeplabv3plus", len(CLASS_NAMES) - 1).eval()
    zoo_store.save(tmp_path / "zoo.pt", model, {"arch": "deeplabv3plus", "num_classes": len(CLASS_NAMES) - 1,
                                                "input_size": WorldConfig().size})
    publish(Management(management_url), store, "zoo", "1", checkpoint=tmp_path / "zoo.pt", batch_size=8)
    images, _ = world.stack(WorldConfig(), "t0", range(50))
    segmenter = TorchServeSegmenter(f"{inference}?management={management_url}")
    try:
        served = segmenter.predict("zoo", "1", images)
    finally:
        segmenter.close()
    assert (served == predict(model, images)).mean() >= 0.9999


def test_cards_of_all_three_formats_are_served_at_each_images_size(torchserve, tmp_path):
    """TorchScript, ONNX and Python (a Hugging Face SegFormer) cards archived by the release port: maps at
    each image's own size, in the run's label space, equal to the in-process card model's."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("transformers")
    from segmad.adapters.torchserve_release import TorchServeRelease
    from segmad.cards import LabelSpace, load_card
    from segmad.cards.runner import load_card_model
    from tests.unit.card_models import write_cards

    inference, management_url, store = torchserve
    space = LabelSpace(tuple(CLASS_NAMES[:4]))
    release = TorchServeRelease(Management(management_url), store, batch_size=4)
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((48, 64), (64, 48), (40, 96), (61, 77))]
    segmenter = TorchServeSegmenter(f"{inference}?management={management_url}")
    try:
        for name, path in write_cards(tmp_path, space).items():
            if name == "wider":
                continue  # its entry lives in the tests, which TorchServe's workers cannot import
            card = load_card(Path(path))
            local = load_card_model(card, space)
            if card.format == "python":  # its random initial weights, as `models add` stores them
                buffer = io.BytesIO()
                torch.save(local.module.state_dict(), buffer)
                artefact = buffer.getvalue()
            else:
                artefact = card.artefact_path().read_bytes()
            release.release_card(name, "1", card.with_artefact(None).to_dict(), list(space.names), artefact)
            served = segmenter.predict(name, "1", images)
            expected, _ = local.predict(images)
            for got, want in zip(served, expected):
                assert got.shape == want.shape
                assert (got == want).mean() >= 0.999, name
    finally:
        segmenter.close()
