"""`segmad.select` from a notebook: the same document as `segmad select`, from arrays or folders, without torch."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import segmad
from PIL import Image
from segmad.cli import main
from segmad.errors import InputError

C = 3
README = Path(__file__).resolve().parents[2] / "README.md"


def random_map(rng: np.random.Generator, shape=(8, 8)) -> np.ndarray:
    labels = rng.choice(C + 1, size=shape, p=rng.dirichlet(np.full(C + 1, 0.6))).astype(np.uint8)
    labels[rng.random(shape) < 0.05] = 255
    return labels


@pytest.fixture
def case(tmp_path):
    """A target and two competitors over 10 images and 5 training masks, in memory and as PNGs."""
    rng = np.random.default_rng(1)
    maps = {model: {f"img{i}": random_map(rng) for i in range(10)} for model in ("mine", "g1", "g2")}
    train = [random_map(rng) for _ in range(5)]
    for model, by_id in maps.items():
        (tmp_path / "pred" / model).mkdir(parents=True)
        for image_id, labels in by_id.items():
            Image.fromarray(labels).save(tmp_path / "pred" / model / f"{image_id}.png")
    (tmp_path / "train").mkdir()
    for i, mask in enumerate(train):
        Image.fromarray(mask).save(tmp_path / "train" / f"m{i}.png")
    return {"root": tmp_path, "maps": maps, "train": train}


def cli_document(root: Path, n3: int) -> dict:
    out = root / "out.json"
    argv = ["select", "--predictions", str(root / "pred"), "--target", "mine", "--train-masks", str(root / "train"),
            "--num-classes", str(C), "--n3", str(n3), "--out", str(out)]
    assert main(argv) == 0
    return json.loads(out.read_text())


def test_select_on_arrays_equals_the_cli_on_the_same_maps_as_pngs(case):
    maps = case["maps"]
    document = segmad.select(target=maps["mine"], competitors={"g1": maps["g1"], "g2": maps["g2"]},
                             train_masks=case["train"], num_classes=C, n3=2)
    expected = cli_document(case["root"], n3=2)
    assert expected["images"] and document == expected


def test_select_on_folders_equals_the_cli(case):
    pred = case["root"] / "pred"
    document = segmad.select(target=pred / "mine", competitors={"g1": str(pred / "g1"), "g2": pred / "g2"},
                             train_masks=case["root"] / "train", num_classes=C, n3=3)
    assert document == cli_document(case["root"], n3=3)


def test_select_on_the_predictions_layout_equals_the_cli(case):
    document = segmad.select(predictions=case["root"] / "pred", target="mine",
                             train_masks=str(case["root"] / "train"), num_classes=C, n3=3)
    assert document == cli_document(case["root"], n3=3)


def test_a_competitor_without_a_map_of_a_target_image_is_an_input_error(case):
    maps = case["maps"]
    lacking = {k: v for k, v in maps["g1"].items() if k != "img3"}
    with pytest.raises(InputError, match="'g1' has no map of image 'img3'"):
        segmad.select(target=maps["mine"], competitors={"g1": lacking}, train_masks=case["train"], num_classes=C, n3=2)


def test_maps_of_different_shapes_are_an_input_error(case):
    maps = case["maps"]
    small = dict(maps["g1"], img0=np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match=r"g1\['img0'\].*differs from the target"):
        segmad.select(target=maps["mine"], competitors={"g1": small}, train_masks=case["train"], num_classes=C, n3=2)


def test_a_class_above_num_classes_is_an_input_error(case):
    maps = case["maps"]
    bad = dict(maps["mine"], img5=np.full((8, 8), C + 1, np.uint8))
    with pytest.raises(InputError, match=r"target\['img5'\].*class id 4 is above C = 3 \(--num-classes; num_classes= in Python\)"):
        segmad.select(target=bad, competitors={"g1": maps["g1"]}, train_masks=case["train"], num_classes=C, n3=2)


def test_the_core_functions_are_exported_at_top_level():
    import segmad.discrepancy.handler  # noqa: F401  (the worker package must not hide the distance)
    from segmad import mad

    assert segmad.distance is mad.discrepancy
    for name in ("size_bounds", "mean_opinion_scores", "select_test_set"):
        assert getattr(segmad, name) is getattr(mad, name)
    assert segmad.select is segmad.api.select
    assert set(segmad.__all__) <= set(dir(segmad))


def test_the_notebook_api_imports_neither_torch_nor_tqdm():
    code = (
        "import sys, numpy as np, segmad\n"
        "m = {'a': np.zeros((4, 4), np.uint8), 'b': np.ones((4, 4), np.uint8)}\n"
        "segmad.select(target=m, competitors={'g': m}, train_masks=list(m.values()), num_classes=1, n3=1)\n"
        "segmad.distance, segmad.size_bounds, segmad.mean_opinion_scores, segmad.select_test_set\n"
        "print(sorted(n for n in ('torch', 'tqdm', 'sqlalchemy', 'flask') if n in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_readme_notebook_example_runs(capsys):
    section = README.read_text().split("## From a notebook", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1
    exec(compile(blocks[0], "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("['img") and "'distance'" in printed[1] and 0 <= float(printed[2]) <= 1
