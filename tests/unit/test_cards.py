"""Model cards: parsing, label-space mapping, native-size maps, and the three formats run the same model."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
import torch

from segmad.cards import LabelSpace, load_card, parse_card
from segmad.cards.card import CardError
from segmad.cards.labels import run_label_space
from segmad.cards.labels import resize_nearest
from segmad.cards.runner import CardModel, load_card_model, module_model
from segmad.mad import discrepancy
from segmad.models import build
from segmad.models.predict import predict_with_entropy

from tests.unit.card_models import quarter

SPACE = LabelSpace(("background", "cat", "dog"))


def card(**fields) -> dict:
    return {"format": "python", "entry": "tests.unit.card_models:quarter", "classes": ["bg", "dog", "car", "cat"],
            "label_map": {"bg": "background"}} | fields


# ---- label space ----------------------------------------------------------------------------------

def test_lookup_maps_by_name_and_label_map_and_ignores_the_rest():
    table = SPACE.lookup(["bg", "dog", "car", "cat"], {"bg": "background"})
    assert table[:4].tolist() == [0, 2, 255, 1]
    assert (table[4:] == 255).all()
    assert SPACE.mapped(["bg", "dog", "car", "cat"], {"bg": "background", "dog": None}) == ["background", "cat"]


def test_a_label_map_onto_an_unknown_run_class_is_refused():
    with pytest.raises(Exception, match="not in the run's label space"):
        SPACE.lookup(["a"], {"a": "zebra"})


def test_d_on_the_shared_space_ignores_unmapped_pixels():
    # Model A's classes: bg, dog, car, cat; model B's: background, cat, dog (the run's own).
    a_model = np.array([[0, 1, 2, 3]], np.uint8)          # bg dog car cat
    b_run = np.array([[0, 2, 1, 2]], np.uint8)            # background dog cat dog
    a_run = SPACE.lookup(["bg", "dog", "car", "cat"], {"bg": "background"})[a_model]
    assert a_run.tolist() == [[0, 2, 255, 1]]
    # Pixel 3 (car) is ignored. Left: background/background, dog/dog, cat vs dog.
    # IoU background = 1/1, dog = 1/2 (A: {1}, B: {1, 3}), cat = 0/1 -> mIoU 0.5, d = 0.5.
    assert discrepancy(a_run, b_run) == pytest.approx(0.5)


def test_the_run_label_space_comes_from_segmad_classes_or_the_world(monkeypatch):
    monkeypatch.delenv("SEGMAD_CLASSES", raising=False)
    assert run_label_space(2).names == ("background", "sun", "tile")
    monkeypatch.setenv("SEGMAD_CLASSES", "background, person")
    assert run_label_space().names == ("background", "person")
    with pytest.raises(Exception, match="names background and 1 classes, but SEGMAD_NUM_CLASSES says C = 3"):
        run_label_space(3)


def test_c_follows_segmad_classes_unless_segmad_num_classes_says_otherwise(monkeypatch):
    from segmad import settings

    monkeypatch.delenv("SEGMAD_NUM_CLASSES", raising=False)
    monkeypatch.delenv("SEGMAD_CLASSES", raising=False)
    assert settings.load().num_classes == 8  # the synthetic world's
    monkeypatch.setenv("SEGMAD_CLASSES", "background,person")
    assert settings.load().num_classes == 1
    assert run_label_space(settings.load().num_classes).names == ("background", "person")
    monkeypatch.setenv("SEGMAD_NUM_CLASSES", "3")
    assert settings.load().num_classes == 3


# ---- resizing back --------------------------------------------------------------------------------

def test_resize_nearest_by_hand():
    small = np.array([[1, 2], [3, 4]], np.uint8)
    assert resize_nearest(small, 4, 4).tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert resize_nearest(small, 2, 3).tolist() == [[1, 2, 2], [3, 4, 4]]  # centres at 1/3, 1, 5/3 of 2 columns
    assert resize_nearest(np.arange(6, dtype=np.uint8).reshape(2, 3), 1, 1).tolist() == [[4]]


def test_maps_come_back_at_each_images_size_for_a_fixed_size_strided_model():
    spec = card(preprocess={"resize": {"policy": "fixed", "size": [32, 32]}}, output={"key": "logits"})
    model = CardModel(parse_card(spec), SPACE)
    images = [np.full((61, 97, 3), 128, np.uint8), np.zeros((20, 12, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)]
    maps, entropy = model.predict(images)
    assert [m.shape for m in maps] == [(61, 97), (20, 12), (32, 32)]
    assert all(m.dtype == np.uint8 and set(np.unique(m)) <= {0, 1, 2, 255} for m in maps)
    assert entropy.shape == (3,) and (entropy >= 0).all() and (entropy <= np.log(4) + 1e-6).all()


def test_a_keep_size_model_is_padded_and_cropped_and_maps_by_hand():
    # Channel model: class 0 (bg -> background) where red > green, else class 3 (cat -> run 1).
    spec = {"format": "python", "entry": "tests.unit.card_models:channel", "kwargs": {"num_classes": 4, "other": 3},
            "classes": ["bg", "dog", "car", "cat"], "label_map": {"bg": "background"},
            "preprocess": {"pad_to_multiple": 16, "mean": [0, 0, 0], "std": [1, 1, 1]}}
    model = CardModel(parse_card(spec), SPACE)
    image = np.zeros((5, 7, 3), np.uint8)
    image[:, :3, 0] = 200  # red on the left three columns
    (label_map,), _ = model.predict([image])
    expected = np.ones((5, 7), np.uint8)
    expected[:, :3] = 0
    assert label_map.tolist() == expected.tolist()


def test_bgr_order_reaches_the_model():
    spec = {"format": "python", "entry": "tests.unit.card_models:channel", "kwargs": {"num_classes": 2, "other": 1},
            "classes": ["background", "cat"], "preprocess": {"channels": "bgr", "mean": [0, 0, 0], "std": [1, 1, 1]}}
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 2] = 200  # blue: in BGR order it is the first channel the model sees
    (label_map,), _ = CardModel(parse_card(spec), SPACE).predict([image])
    assert (label_map == 0).all()


# ---- the three formats ----------------------------------------------------------------------------

def _zoo_module():
    torch.manual_seed(0)
    return build("fcn8s", 2).eval()


def test_torchscript_onnx_and_python_cards_give_the_zoo_models_maps(tmp_path):
    module = _zoo_module()
    images = [np.random.default_rng(i).integers(0, 256, (48 + 16 * i, 64, 3), dtype=np.uint8) for i in range(3)]
    expected = [predict_with_entropy(module, image[None])[0][0] for image in images]
    zoo = {"classes": ["background", "cat", "dog"], "preprocess": {"pad_to_multiple": 16, "scale": 1,
           "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375]}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(module, torch.zeros(1, 3, 64, 64)), str(tmp_path / "m.pt"))
        torch.onnx.export(module, (torch.zeros(1, 3, 64, 64),), str(tmp_path / "m.onnx"), dynamo=False,
                          input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "logits": {0: "n", 2: "h", 3: "w"}})
    torch.save(module.state_dict(), tmp_path / "w.pt")
    cards = {"torchscript": zoo | {"format": "torchscript", "artefact": "m.pt"},
             "onnx": zoo | {"format": "onnx", "artefact": "m.onnx", "output": {"key": "logits"}},
             "python": zoo | {"format": "python", "artefact": "w.pt", "entry": "segmad.models:build",
                              "kwargs": {"arch": "fcn8s", "num_classes": 2}}}
    for fmt, spec in cards.items():
        (tmp_path / f"{fmt}.json").write_text(json.dumps(spec))
        maps, _ = load_card_model(load_card(tmp_path / f"{fmt}.json"), SPACE).predict(images)
        for got, want in zip(maps, expected):
            agree = float((got == want).mean())
            assert agree > 0.999, (fmt, agree)  # ONNX Runtime's kernels may flip a near-tie pixel


def test_a_bare_zoo_module_runs_exactly_as_the_zoo_predicts():
    module = _zoo_module()
    images = np.random.default_rng(1).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    want_maps, want_entropy = predict_with_entropy(module, images)
    maps, entropy = module_model(module).predict(list(images))
    assert np.array_equal(np.stack(maps), want_maps)
    np.testing.assert_allclose(entropy, want_entropy, rtol=1e-6)


# ---- mistakes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, message", [
    ({"classes": ["a"]}, "format is missing; it is one of"),
    ({"format": "tflite", "classes": ["a"]}, "format is one of torchscript"),
    ({"format": "python", "classes": ["a"]}, "entry"),
    ({"format": "onnx", "classes": ["a"]}, "artefact"),
    ({"format": "torchscript", "artefact": "m.pt", "classes": []}, "classes"),
    ({"format": "torchscript", "artefact": "m.pt", "classes": ["a", "a"]}, "twice"),
    ({"format": "torchscript", "artefact": "m.pt", "classes": ["a"], "colour": 1}, "unknown field"),
    ({"format": "torchscript", "artefact": "m.pt", "classes": ["a"], "label_map": {"b": "a"}}, "does not have"),
    ({"format": "torchscript", "artefact": "m.pt", "classes": ["a"], "preprocess": {"resize": {"policy": "fixed"}}},
     "resize.size"),
    ({"format": "torchscript", "artefact": "m.pt", "classes": ["a"], "preprocess": {"std": [1, 0, 1]}}, "positive"),
    ({"format": "torchscript", "artefact": "m.pt", "classes": ["a"], "device": "tpu"}, "device"),
    ({"format": "torchscript", "artefact": "m.pt", "classes": ["a"], "train": {"command": "make"}}, "{data}"),
])
def test_card_mistakes_name_the_field(spec, message):
    with pytest.raises(CardError, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse_card(spec)


def test_runtime_mistakes_are_card_errors(tmp_path):
    with pytest.raises(CardError, match="no such artefact"):
        load_card_model(parse_card(card(format="torchscript", entry=None, artefact="gone.pt"),
                                   base_dir=str(tmp_path)), SPACE)
    with pytest.raises(CardError, match="cannot import entry"):
        CardModel(parse_card(card(entry="no_such_package.models:build")), SPACE)
    flat = {"format": "python", "entry": "tests.unit.card_models:flat_scores", "classes": ["background", "cat", "x"]}
    with pytest.raises(CardError, match="rank 3"):
        CardModel(parse_card(flat), SPACE).predict([np.zeros((8, 8, 3), np.uint8)])
    wrong = card(classes=["bg", "dog"], output={"key": "logits"})  # the model answers 4 classes
    with pytest.raises(CardError, match="answered 4 classes"):
        CardModel(parse_card(wrong), SPACE).predict([np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(CardError, match="no 'scores'"):
        CardModel(parse_card(card(output={"key": "scores"})), SPACE).predict([np.zeros((8, 8, 3), np.uint8)])


def test_yaml_cards_resolve_paths_next_to_the_card(tmp_path):
    torch.save(quarter().state_dict(), tmp_path / "w.pt")
    (tmp_path / "card.yaml").write_text(
        "format: python\nentry: tests.unit.card_models:quarter\nartefact: w.pt\n"
        "classes: [bg, dog, car, cat]\nlabel_map: {bg: background}\noutput: {key: logits}\n")
    loaded = load_card(tmp_path / "card.yaml")
    assert loaded.artefact_path() == tmp_path / "w.pt"
    assert parse_card(loaded.to_dict()) == loaded.with_artefact(loaded.artefact, ".")
    for resize in ({"policy": "shorter", "size": 40}, {"policy": "fixed", "size": [32, 48]}):
        spec = parse_card(card(preprocess={"resize": resize}))
        assert parse_card(json.loads(json.dumps(spec.to_dict()))) == spec  # what the catalog stores reads back
    (tmp_path / "bad.yaml").write_text("format: [unclosed\n")
    with pytest.raises(CardError, match="bad.yaml"):
        load_card(tmp_path / "bad.yaml")
    (tmp_path / "photo.json").write_bytes(b"\xff\xd8\xff\xe0 a JPEG given as the card")
    with pytest.raises(CardError, match="photo.json: not a text file"):
        load_card(tmp_path / "photo.json")
    buffer = io.BytesIO()
    torch.save({"nonsense": torch.zeros(1)}, buffer)
    (tmp_path / "w.pt").write_bytes(buffer.getvalue())
    with pytest.raises(CardError, match="weights do not load"):
        load_card_model(loaded, SPACE)


@pytest.mark.parametrize("entry, kind", [("red_logit", "logits"), ("red_probability", "probabilities")])
def test_one_channel_for_two_classes_is_the_second_class(entry, kind):
    spec = {"format": "python", "entry": f"tests.unit.card_models:{entry}", "classes": ["background", "cat"],
            "output": {"kind": kind}, "preprocess": {"mean": [0, 0, 0], "std": [1, 1, 1]}}
    image = np.zeros((4, 6, 3), np.uint8)
    image[:, :2, 0] = 255  # red on the left
    (label_map,), entropy = CardModel(parse_card(spec), SPACE).predict([image])
    assert label_map.tolist() == [[1, 1, 0, 0, 0, 0]] * 4 and entropy[0] >= 0


def test_a_python_callable_that_loads_its_own_file_gets_its_path(tmp_path):
    from segmad import bootstrap
    from segmad.pipeline.models import load_card_version
    from segmad.ports.segmenter import ModelRef
    from segmad.publish.register import add_card
    from segmad.settings import Settings

    (tmp_path / "model.txt").write_text("2")
    spec = {"format": "python", "entry": "tests.unit.card_models:from_file", "artefact": "model.txt",
            "artefact_arg": "model_path", "classes": ["background", "cat", "dog"], "role": "competitor"}
    (tmp_path / "card.json").write_text(json.dumps(spec))
    model = load_card_model(load_card(tmp_path / "card.json"), SPACE)
    assert (model.predict([np.zeros((5, 7, 3), np.uint8)])[0][0] == 2).all()
    ports = bootstrap.build(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'c.db'}",
                                     blob_url=f"file://{tmp_path / 'blobs'}", bus="memory"))
    try:  # stored: the file's own bytes, handed back as a path when a worker loads the version
        add_card(ports, "filed", "v0", tmp_path / "card.json", space=SPACE)
        assert ports.blobs.get(ports.catalog.model_version("filed", "v0").blob_key) == b"2"
        (tmp_path / "model.txt").unlink()
        loaded = load_card_version(ports, ModelRef("filed", "v0"))
        assert (loaded.predict([np.zeros((3, 3, 3), np.uint8)])[0][0] == 2).all()
    finally:
        ports.close()
    with pytest.raises(CardError, match="artefact_arg"):
        parse_card({"format": "onnx", "artefact": "m.onnx", "artefact_arg": "path", "classes": ["a"]})
