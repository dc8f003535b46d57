"""`segmad models add` and `segmad zoo publish`: checkpoints become model versions the rounds can use."""

import pytest
import torch

from segmad import bootstrap
from segmad.ports.segmenter import ModelRef
from segmad.cli import main
from segmad.pipeline.models import load_module
from segmad.models import build
from segmad.zoo import store


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMAD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SEGMAD_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("SEGMAD_BLOB_URL", f"file://{tmp_path / 'blobs'}")
    monkeypatch.setenv("SEGMAD_BUS", "memory")
    monkeypatch.delenv("SEGMAD_TORCHSERVE_URL", raising=False)
    return tmp_path


def checkpoint(path, arch, seed=0, num_classes=3):
    torch.manual_seed(seed)
    model = build(arch, num_classes)
    store.save(path, model, {"arch": arch, "num_classes": num_classes, "input_size": 32})
    return model


def test_an_added_checkpoint_is_catalogued_stored_and_default(root, capsys):
    model = checkpoint(root / "t.pt", "unet")
    assert main(["models", "add", "target", "--checkpoint", str(root / "t.pt"), "--role", "target"]) == 0
    ports = bootstrap.build()
    row = ports.catalog.model_version("target", "v0")
    assert (row.arch, row.role, row.metrics["num_classes"]) == ("unet", "target", 3)
    assert ports.catalog.default_version("target") == "v0"
    loaded = load_module(ports, ModelRef("target", "v0"), 8)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
    ports.close()
    # Again: nothing changes; another architecture under the same name and version: refused.
    assert main(["models", "add", "target", "--checkpoint", str(root / "t.pt"), "--role", "target"]) == 0
    checkpoint(root / "f.pt", "fcn8s")
    assert main(["models", "add", "target", "--checkpoint", str(root / "f.pt"), "--role", "target"]) == 2
    assert "already registered as a target (unet)" in capsys.readouterr().err


def test_a_missing_checkpoint_is_a_clear_error(root, capsys):
    assert main(["models", "add", "unet", "--checkpoint", str(root / "none.pt"), "--role", "competitor"]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_zoo_publish_adds_the_target_and_the_competitors(root, capsys):
    zoo = root / "zoo"
    checkpoint(store.checkpoint_path(zoo, "deeplabv3plus"), "deeplabv3plus")
    checkpoint(store.checkpoint_path(zoo, "unet"), "unet", seed=1)
    assert main(["zoo", "publish"]) == 0
    ports = bootstrap.build()
    assert {(m.name, m.role) for m in ports.catalog.default_models()} == {("target", "target"), ("unet", "competitor")}
    ports.close()


def test_zoo_publish_without_a_zoo_says_how_to_make_one(root, capsys):
    assert main(["zoo", "publish"]) == 2
    assert "segmad zoo train" in capsys.readouterr().err
