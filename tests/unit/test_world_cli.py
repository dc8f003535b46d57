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
