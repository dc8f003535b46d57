"""`segmad zoo train|list` on a tiny slice of the synthetic world."""

import json

import pytest
import torch

from segmad.cli import main
from segmad.zoo import load

QUICK = ["--epochs", "1", "--s0-count", "8", "--t0-count", "4", "--format", "json"]


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMAD_DATA_DIR", str(tmp_path))
    previous = torch.get_num_threads()
    yield tmp_path
    torch.set_num_threads(previous)


def run_json(capsys, *argv):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_train_stores_a_checkpoint_with_its_recipe_and_score(data_dir, capsys):
    rows = run_json(capsys, "zoo", "train", "--only", "unet", "--seed", "3", *QUICK)
    assert [(r["arch"], r["role"], r["status"], r["seed"]) for r in rows] == [("unet", "competitor", "trained", 3)]
    model, meta = load(data_dir / "zoo" / "unet.pt")
    assert meta["recipe"]["epochs"] == 1 and meta["recipe"]["seed"] == 3
    assert meta["s0_images"] == 8 and meta["t0_images"] == 4 and meta["num_classes"] == 8
    assert meta["class_names"][0] == "background" and len(meta["class_names"]) == 9
    assert 0.0 <= meta["t0_miou"] <= 1.0 and meta["params"] > 0 and meta["world"]["size"] == meta["input_size"]


def test_train_keeps_existing_checkpoints_unless_forced(capsys):
    run_json(capsys, "zoo", "train", "--only", "unet", *QUICK)
    assert run_json(capsys, "zoo", "train", "--only", "unet", *QUICK)[0]["status"] == "kept"
    assert run_json(capsys, "zoo", "train", "--only", "unet", "--force", *QUICK)[0]["status"] == "trained"


def test_list_shows_what_is_stored(capsys):
    assert run_json(capsys, "zoo", "list", "--format", "json") == []
    run_json(capsys, "zoo", "train", "--only", "unet", *QUICK)
    assert [r["arch"] for r in run_json(capsys, "zoo", "list", "--format", "json")] == ["unet"]


def test_list_prints_a_table(capsys):
    run_json(capsys, "zoo", "train", "--only", "unet", *QUICK)
    assert main(["zoo", "list"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:2] == ["arch", "role"] and row.split()[:2] == ["unet", "competitor"]


def test_train_rejects_an_unknown_architecture(capsys):
    with pytest.raises(SystemExit):
        main(["zoo", "train", "--only", "segformer"])


@pytest.mark.parametrize("option", ["--epochs", "--s0-count", "--t0-count", "--threads"])
@pytest.mark.parametrize("value", ["abc", "0"])
def test_a_count_that_is_not_a_positive_number_names_the_option(capsys, option, value):
    with pytest.raises(SystemExit):
        main(["zoo", "train", option, value])
    assert f"argument {option}: expected a whole number >= 1, got '{value}'" in capsys.readouterr().err


@pytest.mark.parametrize("terminal", [True, False])
def test_train_shows_progress_only_on_a_terminal(capsys, monkeypatch, terminal):
    asked = {}

    def train_zoo(*args, progress, **kwargs):
        asked["progress"] = progress
        return []

    monkeypatch.setattr("segmad.zoo.training.train_zoo", train_zoo)
    monkeypatch.setattr("sys.stderr.isatty", lambda: terminal)
    assert main(["zoo", "train", "--format", "json"]) == 0
    assert asked == {"progress": terminal}
