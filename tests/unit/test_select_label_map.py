"""`segmad select --label-map`: a competitor with its own label set is mapped onto the run's before d."""

from __future__ import annotations

import json

import numpy as np

import segmad
from segmad.cards.labels import LabelSpace
from segmad.cli import main
from segmad.codec import encode_png

RUN = LabelSpace(("background", "person", "dog"))
THEIRS = ["void", "human", "car", "dog"]  # car is not in the run: ignored


def _maps(rng, n, labels):
    return {f"img-{i:03d}": rng.choice(labels, size=(12, 16)).astype(np.uint8) for i in range(n)}


def test_mapped_maps_mine_as_if_they_were_made_in_the_runs_space(tmp_path, capsys):
    rng = np.random.default_rng(4)
    target = _maps(rng, 20, [0, 1, 2])
    theirs = _maps(rng, 20, [0, 1, 2, 3])
    masks = list(_maps(rng, 10, [0, 1, 2]).values())
    root = tmp_path / "predictions"
    for model, maps in (("target", target), ("theirs", theirs)):
        (root / model).mkdir(parents=True)
        for image_id, label_map in maps.items():
            (root / model / f"{image_id}.png").write_bytes(encode_png(label_map))
    (tmp_path / "train").mkdir()
    for i, mask in enumerate(masks):
        (tmp_path / "train" / f"m{i}.png").write_bytes(encode_png(mask))
    spec = {"classes": list(RUN.names),
            "models": {"theirs": {"classes": THEIRS, "label_map": {"void": "background", "human": "person"}}}}
    (tmp_path / "map.json").write_text(json.dumps(spec))
    argv = ["select", "--predictions", str(root), "--target", "target", "--train-masks", str(tmp_path / "train"),
            "--num-classes", "2", "--n3", "3", "--out", str(tmp_path / "m.json")]
    assert main(argv + ["--label-map", str(tmp_path / "map.json")]) == 0
    got = json.loads((tmp_path / "m.json").read_text())
    table = RUN.lookup(THEIRS, spec["models"]["theirs"]["label_map"])
    assert table[:4].tolist() == [0, 1, 255, 2]
    expected = segmad.select(target, {"theirs": {i: table[m] for i, m in theirs.items()}},
                             train_masks=masks, num_classes=2, n3=3)
    assert got == json.loads(json.dumps(expected))
    # Unmapped, their label 3 is out of range for C = 2: refused, which is why the option exists.
    capsys.readouterr()
    assert main(argv) == 2
    assert "3" in capsys.readouterr().err.splitlines()[-1]
    spec["models"]["nobody"] = {"classes": ["a"]}
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    assert main(argv + ["--label-map", str(tmp_path / "bad.json")]) == 2
    assert "nobody" in capsys.readouterr().err


def test_an_id_beyond_the_classes_a_label_map_lists_is_refused_and_255_is_not(tmp_path, capsys):
    rng = np.random.default_rng(5)
    root = tmp_path / "predictions"
    maps = {"target": _maps(rng, 6, [0, 1, 2]), "theirs": _maps(rng, 6, [0, 1, 3, 255])}
    for model, by_id in maps.items():
        (root / model).mkdir(parents=True)
        for image_id, label_map in by_id.items():
            (root / model / f"{image_id}.png").write_bytes(encode_png(label_map))
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "m.png").write_bytes(encode_png(_maps(rng, 1, [0, 1, 2])["img-000"]))
    spec = {"classes": list(RUN.names), "models": {"theirs": {"classes": THEIRS, "label_map": {"human": "person"}}}}
    (tmp_path / "map.json").write_text(json.dumps(spec))
    argv = ["select", "--predictions", str(root), "--target", "target", "--train-masks", str(tmp_path / "train"),
            "--num-classes", "2", "--n3", "3", "--out", str(tmp_path / "m.json"), "--label-map", str(tmp_path / "map.json")]
    assert main(argv) == 0  # ids 0..3 are their four classes; 255 is ignore
    bad = maps["theirs"]["img-004"].copy()
    bad[3, 5] = 7  # they list 4 classes: 7 is none of them (unmapped, it would vanish into 255)
    (root / "theirs" / "img-004.png").write_bytes(encode_png(bad))
    (tmp_path / "m.json").unlink()
    capsys.readouterr()
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "img-004.png" in line and "class id 7 is beyond the 4 classes --label-map lists for 'theirs'" in line
    assert not (tmp_path / "m.json").exists()
