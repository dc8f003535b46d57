"""Every zoo checkpoint has a model card beside it that `segmad models add NAME --card` takes like any team's,
and the model it adds predicts exactly what the zoo's fixed path predicts."""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch
from PIL import Image

from segmad import bootstrap
from segmad.cards import load_card
from segmad.cards.runner import module_model
from segmad.cli import main
from segmad.models.predict import predict, predict_with_entropy
from segmad.pipeline.models import ensure_loaded, is_card
from segmad.ports.segmenter import ModelRef
from segmad.world import WorldConfig, stack
from segmad.zoo import checkpoint_path, load
from segmad.zoo.cards import card_path, from_checkpoint

QUICK = ["--epochs", "1", "--s0-count", "8", "--t0-count", "4", "--format", "json"]
ARCH = "deeplabv3plus"  # the zoo's target: its card says role target


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A one-epoch zoo of the target, trained once by `segmad zoo train`, and the rows it printed."""
    data = tmp_path_factory.mktemp("trained")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as env, redirect_stdout(out):
        env.setenv("SEGMAD_DATA_DIR", str(data))
        assert main(["zoo", "train", "--only", ARCH, *QUICK]) == 0
    return data / "zoo", json.loads(out.getvalue())


@pytest.fixture
def zoo(trained, root, monkeypatch, one_thread):
    """A copy of the trained zoo at <root>/zoo, the CLI's ports in <root>, the run's classes the world's."""
    for name in ("SEGMAD_CLASSES", "SEGMAD_NUM_CLASSES", "SEGMAD_TORCHSERVE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "cache"))  # where a worker writes an artefact it loads by path
    return shutil.copytree(trained[0], root / "zoo")


def world_images(height: int, width: int) -> np.ndarray:
    """Four T0 images of the synthetic world at (height, width)."""
    images = stack(WorldConfig(size=64), "t0", range(4))[0]
    return np.stack([np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR)) for image in images])


def test_zoo_train_writes_a_card_beside_each_checkpoint_that_runs_as_the_zoo_does(trained):
    folder, rows = trained
    assert [(r["arch"], r["status"], r["card"]) for r in rows] == [(ARCH, "trained", str(card_path(folder, ARCH)))]
    card = load_card(card_path(folder, ARCH))
    module, meta = load(checkpoint_path(folder, ARCH))
    assert card.artefact == f"{ARCH}.pt" and card.artefact_path() == checkpoint_path(folder, ARCH)
    assert (card.format, card.role, card.name, card.artefact_arg) == ("python", "target", "target", "checkpoint")
    assert list(card.classes) == meta["class_names"] and card.output.kind == "logits"
    assert card.preprocess == module_model(module).card.preprocess  # keep size, pad to 16, the zoo's mean/std


def test_a_zoo_card_added_like_any_model_predicts_exactly_what_the_zoo_predicts(zoo, capsys):
    moved = shutil.move(zoo, zoo.parent / "elsewhere")  # the card names its checkpoint relative to itself
    assert main(["models", "add", "target", "--card", str(card_path(moved, ARCH))]) == 0
    assert capsys.readouterr().out.strip() == "added target target@v0 (python:segmad.zoo.cards:from_checkpoint)"
    module, _ = load(checkpoint_path(moved, ARCH))
    ports = bootstrap.build()
    try:
        assert is_card(ports.catalog.model_version("target", "v0"))
        ensure_loaded(ports, ModelRef("target", "v0"), 8)
        for height, width in ((64, 64), (48, 80)):
            images = world_images(height, width)
            want_maps, want_entropy = predict_with_entropy(module, images)
            maps, entropy = ports.segmenter.predict_with_entropy("target", "v0", images)
            assert len(np.unique(want_maps)) > 1  # a map of one class would show little
            assert np.array_equal(maps, want_maps) and np.array_equal(maps, predict(module, images))
            np.testing.assert_allclose(entropy, want_entropy, rtol=1e-6)
        odd = list(world_images(50, 70))  # not a multiple of 16: padded and cropped as the zoo's runner does
        assert all(np.array_equal(got, want) for got, want in
                   zip(ports.segmenter.predict("target", "v0", odd), module_model(module).predict(odd)[0]))
    finally:
        ports.close()


def test_zoo_cards_writes_the_missing_cards_prints_their_paths_and_is_idempotent(zoo, capsys):
    card_path(zoo, ARCH).unlink()
    assert main(["zoo", "cards"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(card_path(zoo, ARCH))]
    text = card_path(zoo, ARCH).read_text()
    assert main(["zoo", "cards"]) == 0
    assert capsys.readouterr().out == "" and card_path(zoo, ARCH).read_text() == text
    moved = shutil.move(zoo, zoo.parent / "elsewhere")
    card_path(moved, ARCH).unlink()
    assert main(["zoo", "cards", "--zoo", str(moved)]) == 0
    assert capsys.readouterr().out.splitlines() == [str(card_path(moved, ARCH))]
    assert card_path(moved, ARCH).read_text() == text  # nothing in a card depends on where the zoo is


def test_zoo_cards_without_a_zoo_is_a_user_error(root, capsys):
    assert main(["zoo", "cards", "--zoo", str(root / "nowhere")]) == 2
    assert "segmad zoo train" in capsys.readouterr().err


def test_a_card_whose_checkpoint_is_missing_is_refused_before_anything_is_stored(zoo, capsys):
    checkpoint_path(zoo, ARCH).unlink()
    assert main(["models", "add", "target", "--card", str(card_path(zoo, ARCH))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no such artefact" in err
    assert not (zoo.parent / "blobs").exists() or not any(p.is_file() for p in (zoo.parent / "blobs").rglob("*"))


def test_the_entry_loads_a_fine_tuned_state_dict_and_refuses_a_checkpoint_of_another_arch(zoo):
    module, meta = load(checkpoint_path(zoo, ARCH))
    for parameter in module.parameters():  # a fine-tuned version: other weights, stored as a bare state dict
        parameter.data.add_(0.01)
    torch.save(module.state_dict(), zoo / "v1.pt")
    loaded = from_checkpoint(str(zoo / "v1.pt"), ARCH, meta["num_classes"])
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in module.state_dict().items())
    with pytest.raises(ValueError, match="the card says unet"):
        from_checkpoint(str(checkpoint_path(zoo, ARCH)), "unet", meta["num_classes"])
