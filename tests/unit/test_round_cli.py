"""`segmad round ...` and `segmad predictions export`: state on the configured ports, clear errors (exit 2)."""

import json

import pytest

from segmad.cli import main
from segmad.rounds import control
from round_world import FAILS, POOL, ingest, make_ports, run_discrepancy, run_inference, start_round, train_masks


@pytest.fixture
def mined(root):
    ports = make_ports(root)
    ingest(ports, POOL[:12])
    start_round(ports, root)
    run_inference(ports)
    run_discrepancy(ports)
    yield ports
    ports.close()


def start_args(root, *extra):
    return ["round", "start", "1", "--target-version", "v0", "--n3", "2", "--num-classes", "3",
            "--train-masks", str(train_masks(root)), *extra]


def test_start_records_the_bounds_and_the_competitors_defaults(root, capsys):
    make_ports(root).close()
    assert main(start_args(root)) == 0
    assert main(["round", "status", "1", "--format", "json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["state"] == "mining" and state["competitors"] == ["fcn8s@v0", "unet@v0"]
    assert state["num_classes"] == 3 and state["target_version"] == "v0"


def test_start_with_an_unregistered_target_version_exits_2(root, capsys):
    make_ports(root).close()
    assert main(start_args(root)[:4] + ["v9", *start_args(root)[5:]]) == 2
    assert "no registered version 'v9'" in capsys.readouterr().err


def test_starting_a_round_twice_exits_2(root, capsys):
    make_ports(root).close()
    assert main(start_args(root)) == 0
    assert main(start_args(root)) == 2
    assert "round 1 already exists" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["round", "status", "7"], ["round", "candidates", "7", "--format", "json"],
                                  ["predictions", "export", "--round", "7", "--out", "x"]])
def test_an_unknown_round_exits_2_naming_the_rounds_there_are(root, capsys, argv):
    make_ports(root).close()
    assert main(argv) == 2
    assert "no round 7 (rounds: none yet)" in capsys.readouterr().err


def test_candidates_json_is_the_catalogued_heaps_in_select_format(mined, capsys):
    assert main(["round", "candidates", "1", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == control.candidates(mined, 1) and set(document) == {"images", "heaps"}
    assert document["images"]


def test_export_writes_one_folder_per_model_with_the_target_as_target(mined, root):
    assert main(["predictions", "export", "--round", "1", "--out", str(root / "maps")]) == 0
    folders = {p.name: sorted(f.stem for f in p.iterdir()) for p in (root / "maps").iterdir()}
    assert folders == {name: POOL[:12] for name in FAILS}


def test_export_into_a_folder_with_files_exits_2(mined, root):
    (root / "maps").mkdir()
    (root / "maps" / "old.txt").write_text("x")
    assert main(["predictions", "export", "--round", "1", "--out", str(root / "maps")]) == 2


def test_close_mining_freezes_the_candidates_and_opens_their_rating(mined, capsys):
    assert main(["annotators", "add", "ann-a"]) == 0
    assert main(["round", "close-mining", "1", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert mined.catalog.round_images(1, "candidates") == control.candidates(mined, 1)["images"]
    assert mined.catalog.round(1).state == "weak-rating" and result["weak_campaign"] == 1
    assert main(["round", "close-mining", "1"]) == 2
    assert "already past mining" in capsys.readouterr().err
    assert main(["round", "finetune", "1"]) == 2
    assert "`segmad round select 1`" in capsys.readouterr().err


def test_start_with_world_takes_the_bounds_from_the_synthetic_s0(root, capsys):
    make_ports(root).close()
    assert main(["round", "start", "1", "--target-version", "v0", "--world", "--num-classes", "3"]) == 0
    ports = make_ports(root)
    settings = ports.catalog.round(1).settings
    ports.close()
    assert len(settings.bounds.lower) == 4 and settings.bounds.upper[1] < 1


def test_round_zero_is_refused_because_t0_names_the_seed_test_set(root, capsys):
    make_ports(root).close()
    assert main(start_args(root)[:2] + ["0"] + start_args(root)[3:]) == 2
    assert "round numbers start at 1" in capsys.readouterr().err


@pytest.mark.parametrize("argv, why", [
    (["round", "start", "1", "--target-version", "v0", "--world", "--num-classes", "9"],
     "--num-classes must be 1..8 with --world, got 9"),
    (["round", "start", "1", "--target-version", "v0", "--world", "--num-classes", "-1"],
     "--num-classes must be 1..8 with --world, got -1"),
    (["round", "close-mining", "1", "--wait", "--timeout", "-5"], "--timeout must be above 0 seconds, got -5"),
])
def test_numbers_out_of_range_are_one_line_naming_the_option(root, capsys, argv, why):
    make_ports(root).close()
    assert main(argv) == 2
    assert capsys.readouterr().err == f"segmad round: error: {why}\n"


def test_a_negative_class_count_with_training_masks_is_refused_as_such(root, capsys):
    make_ports(root).close()
    assert main(start_args(root)[:-4] + ["--num-classes", "-1", "--train-masks", str(train_masks(root))]) == 2
    assert capsys.readouterr().err == "segmad round: error: --num-classes must be 1..254, got -1\n"
