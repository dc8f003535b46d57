"""`segmad world export` writes the PNGs and the index it promises."""

import json

import numpy as np
import pytest
from PIL import Image

from segmad import world
from segmad.cli import main


def test_export_writes_images_masks_and_index(tmp_path):
    assert main(["world", "export", "--split", "pool", "--count", "3", "--start", "5",
                 "--size", "32", "--out", str(tmp_path)]) == 0
    lines = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [line["image_id"] for line in lines] == ["pool-000005", "pool-000006", "pool-000007"]
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [
        f"{line['image_id']}.png" for line in lines]


def test_exported_pngs_hold_the_sample_arrays(tmp_path):
    main(["world", "export", "--split", "s0", "--count", "1", "--seed", "3", "--size", "32",
          "--out", str(tmp_path)])
    expected = world.sample(world.WorldConfig(seed=3, size=32), "s0", 0)
    image, mask = Image.open(tmp_path / "images/s0-000000.png"), Image.open(tmp_path / "masks/s0-000000.png")
    assert mask.mode == "L"
    assert np.array_equal(np.asarray(image), expected.image)
    assert np.array_equal(np.asarray(mask), expected.mask)


def test_index_records_shifts_and_domain(tmp_path):
    main(["world", "export", "--split", "s0", "--count", "1", "--size", "32", "--out", str(tmp_path)])
    line = json.loads((tmp_path / "samples.jsonl").read_text())
    assert line == {"image_id": "s0-000000", "shifts": [], "in_domain": True}


@pytest.mark.parametrize("argv", [
    ["--split", "train", "--count", "1"],
    ["--split", "s0", "--count", "-1"],
    ["--split", "s0", "--count", "many"],
    ["--split", "s0"],
])
def test_bad_arguments_exit_with_status_2(tmp_path, argv):
    with pytest.raises(SystemExit) as exit_:
        main(["world", "export", *argv, "--out", str(tmp_path)])
    assert exit_.value.code == 2


def test_count_beyond_the_split_exits_with_status_2(tmp_path, capsys):
    assert main(["world", "export", "--split", "t0", "--count", "1150", "--out", str(tmp_path)]) == 2
    assert "1149" in capsys.readouterr().err


def test_too_small_size_exits_with_status_2(tmp_path):
    assert main(["world", "export", "--split", "s0", "--count", "1", "--size", "4",
                 "--out", str(tmp_path)]) == 2


def test_missing_action_exits_with_status_2():
    with pytest.raises(SystemExit) as exit_:
        main(["world"])
    assert exit_.value.code == 2


@pytest.mark.parametrize("size, message", [
    ("1000000", "--size must be at most 4096 px, got 1000000"),  # not a 14.6 TiB MemoryError
    ("0", "--size must be at least 16 px, got 0"),
])
def test_a_size_out_of_range_is_one_line_naming_the_option(tmp_path, capsys, size, message):
    assert main(["world", "export", "--split", "pool", "--count", "1", "--size", size,
                 "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"segmad world: error: {message}\n"


@pytest.mark.parametrize("argv, option", [
    (["--count", "abc"], "--count"),
    (["--count", "1", "--start", "abc"], "--start"),
])
def test_a_count_that_is_not_a_number_names_the_option(tmp_path, capsys, argv, option):
    with pytest.raises(SystemExit):
        main(["world", "export", "--split", "s0", *argv, "--out", str(tmp_path)])
    assert f"argument {option}: expected a whole number >= 0, got 'abc'" in capsys.readouterr().err


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path, capsys):
    assert main(["world", "export", "--split", "pool", "--count", "2", "--size", "16", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("extra, shown", [([], True), (["--no-progress"], False)])
def test_a_terminal_sees_the_progress_bar_unless_no_progress(tmp_path, capsys, monkeypatch, extra, shown):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert main(["world", "export", "--split", "pool", "--count", "2", "--size", "16",
                 "--out", str(tmp_path), *extra]) == 0
    assert ("world pool" in capsys.readouterr().err) == shown
