"""`segmad select`: the JSON equals the DESIGN §2 contract computed by brute force; bad input exits 2 cleanly."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segmad.cli import main

C = 3  # foreground classes in every test case
IDS = [f"img{i:02d}" for i in range(12)]


def write_png(path: Path, labels: np.ndarray, palette: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.asarray(labels, dtype=np.uint8))
    if palette:  # P mode whose colours are nothing like the indices
        image.putpalette([v for i in range(256) for v in ((37 * i) % 256, 200, 255 - i)])
        assert image.mode == "P"
    image.save(path)


def random_map(rng: np.random.Generator, shape=(8, 8)) -> np.ndarray:
    """A map whose class mix varies from image to image, with a few ignore pixels."""
    mix = rng.dirichlet(np.full(C + 1, 0.6))
    labels = rng.choice(C + 1, size=shape, p=mix).astype(np.uint8)
    labels[rng.random(shape) < 0.05] = 255
    return labels


def make_case(root: Path, seed: int = 0, palette: bool = False) -> dict:
    """Predictions of a target and two competitors for 12 images, plus 6 training masks; returns the maps."""
    rng = np.random.default_rng(seed)
    maps = {"target": {}, "g1": {}, "g2": {}}
    for image_id in IDS:
        target = random_map(rng)
        maps["target"][image_id] = target
        for competitor in ("g1", "g2"):
            changed = rng.random(target.shape) < rng.uniform(0, 0.6)
            maps[competitor][image_id] = np.where(changed, random_map(rng), target).astype(np.uint8)
    for model in maps:  # img01 is a copy of img00, so their distances tie
        maps[model]["img01"] = maps[model]["img00"].copy()
    train = [random_map(rng) for _ in range(6)]
    for mask in train[:4]:
        mask[mask == 3] = 0  # class 3 only in 2 masks; bounds come from those alone
    for model, by_id in maps.items():
        for image_id, labels in by_id.items():
            write_png(root / "pred" / model / f"{image_id}.png", labels, palette)
    for i, mask in enumerate(train):
        write_png(root / "train" / f"m{i}.png", mask, palette)
    return {"maps": maps, "train": train}


def brute_force(case: dict, n3: int) -> dict:
    """DESIGN §2 written out plainly, independent of segmad.mad."""

    def d(a, b):
        keep = (a != 255) & (b != 255)
        a, b = a[keep], b[keep]
        if a.size == 0:
            return 0.0
        ious = []
        for k in range(255):
            union = np.sum((a == k) | (b == k))
            if union:
                ious.append(np.sum((a == k) & (b == k)) / union)
        return 1.0 - sum(ious) / len(ious)

    def fraction(labels, k):
        return np.sum(labels == k) / labels.size

    bounds = {}
    for k in range(1, C + 1):
        present = [fraction(m, k) for m in case["train"] if fraction(m, k) > 0]
        bounds[k] = tuple(np.percentile(present, [25, 75])) if present else (0.0, 1.0)

    maps = case["maps"]
    heaps, members_all = [], set()
    for j in ("g1", "g2"):
        for k in range(1, C + 1):
            for partition, model in (("target", "target"), ("competitor", j)):
                p, q = bounds[k]
                group = [x for x in IDS if 0 < fraction(maps[model][x], k) and p <= fraction(maps[model][x], k) <= q]
                ranked = sorted(((d(maps["target"][x], maps[j][x]), x) for x in group), key=lambda t: (-t[0], t[1]))
                top = ranked[:n3]
                if top:
                    heaps.append({"competitor": j, "class": k, "partition_by": partition,
                                  "members": [{"image": x, "distance": dist} for dist, x in top]})
                    members_all.update(x for _, x in top)
    return {"images": sorted(members_all), "heaps": heaps}


def select_args(tmp_path: Path, *extra: str, out: Path | None = None) -> list[str]:
    return ["select", "--predictions", str(tmp_path / "pred"), "--target", "target",
            "--train-masks", str(tmp_path / "train"), "--num-classes", str(C), "--n3", "2",
            "--out", str(out or tmp_path / "out.json"), *extra]


def test_output_equals_the_contract_computed_by_brute_force(tmp_path, capsys):
    case = make_case(tmp_path)
    assert main(select_args(tmp_path)) == 0
    expected = brute_force(case, n3=2)
    assert 0 < len(expected["images"]) < len(IDS)  # the case really filters and ranks
    assert_same_result(json.loads((tmp_path / "out.json").read_text()), expected)


def assert_same_result(got: dict, expected: dict) -> None:
    """Equal up to float rounding in the distances (pytest.approx does not descend into lists of dicts)."""
    assert got["images"] == expected["images"]
    assert [{**h, "members": [m["image"] for m in h["members"]]} for h in got["heaps"]] == [
        {**h, "members": [m["image"] for m in h["members"]]} for h in expected["heaps"]
    ]
    got_d = [m["distance"] for h in got["heaps"] for m in h["members"]]
    assert got_d == pytest.approx([m["distance"] for h in expected["heaps"] for m in h["members"]], abs=1e-12)


def test_palette_maps_are_read_as_their_indices(tmp_path, capsys):
    make_case(tmp_path / "L")
    make_case(tmp_path / "P", palette=True)
    assert main(select_args(tmp_path / "L")) == 0
    assert main(select_args(tmp_path / "P")) == 0
    assert (tmp_path / "P" / "out.json").read_bytes() == (tmp_path / "L" / "out.json").read_bytes()


def test_two_workers_write_the_same_bytes_as_one(tmp_path, capsys):
    make_case(tmp_path)
    assert main(select_args(tmp_path, "--workers", "1", out=tmp_path / "one.json")) == 0
    assert main(select_args(tmp_path, "--workers", "2", out=tmp_path / "two.json")) == 0
    assert (tmp_path / "two.json").read_bytes() == (tmp_path / "one.json").read_bytes()


def test_success_prints_one_summary_line_on_stderr_and_nothing_on_stdout(tmp_path, capsys):
    make_case(tmp_path)
    assert main(select_args(tmp_path)) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    images = len(json.loads((tmp_path / "out.json").read_text())["images"])
    assert f"|M| = {images} images" in line and "scanned 12 images" in line


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_goes_to_stderr_on_a_terminal(tmp_path, capsys, monkeypatch):
    make_case(tmp_path)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(select_args(tmp_path)) == 0
    assert capsys.readouterr().out == ""
    assert "select: 100%" in terminal.getvalue() and "12/12" in terminal.getvalue()


# --- bad input: exit 2, one stderr line naming the file, no output left behind -----------------


def break_missing_target(root):
    return ["--target", "nope"], root / "pred" / "nope"


def break_map_size(root):
    write_png(root / "pred" / "g2" / "img03.png", np.zeros((8, 9)))
    return [], root / "pred" / "g2" / "img03.png"


def break_missing_competitor_map(root):
    (root / "pred" / "g1" / "img05.png").unlink()
    return [], root / "pred" / "g1" / "img05.png"


def break_non_png_name(root):
    (root / "pred" / "target" / "notes.txt").write_text("hello")
    return [], root / "pred" / "target" / "notes.txt"


def break_unreadable_png(root):
    (root / "pred" / "g1" / "img07.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return [], root / "pred" / "g1" / "img07.png"


def break_jpeg_named_png(root):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "pred" / "g1" / "img02.png", format="JPEG")
    return [], root / "pred" / "g1" / "img02.png"


def break_class_above_c_in_prediction(root):
    write_png(root / "pred" / "g2" / "img04.png", np.full((8, 8), C + 1))
    return [], root / "pred" / "g2" / "img04.png"


def break_class_above_c_in_training_mask(root):
    write_png(root / "train" / "m2.png", np.full((8, 8), 254))
    return [], root / "train" / "m2.png"


def break_rgb_map(root):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "pred" / "target" / "img06.png")
    return [], root / "pred" / "target" / "img06.png"


def break_no_competitor(root):
    for competitor in ("g1", "g2"):
        for png in (root / "pred" / competitor).iterdir():
            png.unlink()
        (root / "pred" / competitor).rmdir()
    return [], root / "pred"


def break_n3_zero(root):
    return ["--n3", "0"], "--n3"


BREAKS = [break_missing_target, break_map_size, break_missing_competitor_map, break_non_png_name,
          break_unreadable_png, break_jpeg_named_png, break_class_above_c_in_prediction,
          break_class_above_c_in_training_mask, break_rgb_map, break_no_competitor, break_n3_zero]


def assert_rejected(tmp_path, capsys, breaks, workers="1"):
    make_case(tmp_path)
    extra, named = breaks(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert main(select_args(tmp_path, "--workers", workers, *extra, out=out_dir / "m.json")) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert str(named) in line
    assert captured.out == ""
    assert list(out_dir.iterdir()) == []  # no output, no temp file


@pytest.mark.parametrize("breaks", BREAKS, ids=lambda f: f.__name__.removeprefix("break_"))
def test_bad_input_exits_2_with_one_line_naming_the_file_and_no_output(tmp_path, capsys, breaks):
    assert_rejected(tmp_path, capsys, breaks)


@pytest.mark.parametrize("breaks", [break_map_size, break_unreadable_png, break_class_above_c_in_prediction],
                         ids=lambda f: f.__name__.removeprefix("break_"))
def test_bad_input_found_in_a_worker_process_is_reported_the_same(tmp_path, capsys, breaks):
    assert_rejected(tmp_path, capsys, breaks, workers="2")


def test_bad_input_leaves_an_existing_output_file_untouched(tmp_path, capsys):
    make_case(tmp_path)
    out = tmp_path / "m.json"
    out.write_text("previous result")
    break_class_above_c_in_prediction(tmp_path)
    assert main(select_args(tmp_path, out=out)) == 2
    assert out.read_text() == "previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "pred", "train"]


def test_console_script_runs_select_and_reports_errors_in_one_line(tmp_path):
    make_case(tmp_path)
    script = str(Path(sys.executable).parent / "segmad")
    ok = subprocess.run([script, *select_args(tmp_path)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads((tmp_path / "out.json").read_text())["images"]
    break_rgb_map(tmp_path)
    bad_args = select_args(tmp_path, out=tmp_path / "bad.json")
    bad = subprocess.run([script, *bad_args], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [f"segmad select: error: {tmp_path / 'pred' / 'target' / 'img06.png'}: "
                                       "not a single-channel label map (mode RGB; expected L or P)"]
    assert not (tmp_path / "bad.json").exists()


def test_a_file_where_a_folder_goes_is_called_not_a_folder(tmp_path, capsys):
    make_case(tmp_path)
    (tmp_path / "img.jpg").write_bytes(b"\xff\xd8")
    cases = [
        (select_args(tmp_path, "--train-masks", str(tmp_path / "img.jpg")), "not a folder for --train-masks"),
        (select_args(tmp_path, out=tmp_path / "img.jpg" / "m.json"), "not a folder for --out's file"),
        (select_args(tmp_path, out=tmp_path / "nowhere" / "m.json"), "no such folder for --out's file"),
    ]
    for argv, why in cases:
        assert main(argv) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.endswith(why), line
