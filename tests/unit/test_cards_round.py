"""A whole round with a team's own models: cards of all three formats, another label set, mixed image sizes.

As a team would: the target is a Hugging Face SegFormer built by a python card (its logits at a
quarter of the input size); competitors are a TorchScript and an ONNX export of zoo networks and a
model with more classes than the run (some unmapped). The pool's images are of several sizes and
aspect ratios. The round runs through the inference and discrepancy workers, the weak and dense
campaigns, and the trainer, which fine-tunes the SegFormer into v1 with the same card.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from segmad import bootstrap
from segmad.cards.labels import LabelSpace, resize_nearest
from segmad.catalog.states import DENSE_LABELLING, TRAINING
from segmad.cli import main
from segmad.codec import decode_png, encode_png
from segmad.ingestion.service import ingest_arrays
from segmad.models.train import FinetuneConfig
from segmad.offline.mining import training_bounds
from segmad.pipeline import sets
from segmad.pipeline.keys import label_key, prediction_key
from segmad.pipeline.models import is_card
from segmad.ports.segmenter import ModelRef
from segmad.publish.register import add_card
from segmad.rounds import control
from segmad.settings import Settings
from segmad.trainer.training import train_round
from segmad.world import CLASS_NAMES, WorldConfig, sample, stack

from round_world import add_people, paint, rate, run_discrepancy, run_inference
from tests.unit.card_models import write_cards

pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")

WORLD = WorldConfig(num_classes=3, size=32, s0_size=8, t0_size=4, pool_size=16, wild_size=0, seed=11)
C = WORLD.num_classes
SPACE = LabelSpace(tuple(CLASS_NAMES[: C + 1]))
SIZES = [(48, 64), (64, 48), (40, 96), (80, 80)]
POOL = [f"pool-{i:06d}" for i in range(WORLD.pool_size)]
CONFIG = FinetuneConfig.demo(max_steps=2, batch_size=2, s0_batch_size=2, lr_grid=(1e-2,))


def label_round(ports) -> tuple[list[str], list[str]]:
    """Round 1 from mining to training: simulated people rate M, paint and accept S and T's true masks at each
    image's own size; (S, T)."""
    add_people(ports)
    _, weak = control.close_mining(ports, 1, test_size=2)
    rate(ports, weak, lambda name, i, image_id: 1 + int(image_id[-6:]) % 5)
    dense = control.select(ports, 1)["dense_campaign"]
    assert ports.catalog.round(1).state == DENSE_LABELLING
    paint(ports, dense, mask_of=true_mask)
    control.finetune(ports, 1)
    assert ports.catalog.round(1).state == TRAINING
    return ports.catalog.round_images(1, "counterexamples"), ports.catalog.round_images(1, "test")


def true_mask(image_id: str) -> np.ndarray:
    """A pool image's true mask at the image's own size."""
    return pool_item(int(image_id[-6:]))[1]


def pool_item(i: int) -> tuple[np.ndarray, np.ndarray]:
    """Pool image i and its true mask at one of SIZES (the world renders squares; the pool is not)."""
    drawn = sample(WORLD, "pool", i)
    h, w = SIZES[i % len(SIZES)]
    image = np.asarray(Image.fromarray(drawn.image).resize((w, h), Image.BILINEAR))
    return image, resize_nearest(drawn.mask, h, w)


@pytest.fixture(scope="module")
def round_(tmp_path_factory):
    """Round 1 over the card models, walked to the end; (ports, tmp folder, S, T)."""
    root = tmp_path_factory.mktemp("cards-round")
    ports = bootstrap.build(Settings(data_dir=root, database_url=f"sqlite:///{root / 'c.db'}",
                                     blob_url=f"file://{root / 'blobs'}", bus="memory"))
    for name in ("s0", "t0"):
        size = WORLD.s0_size if name == "s0" else WORLD.t0_size
        sets.put_set(ports, name, [f"{name}-{i:06d}" for i in range(size)], *stack(WORLD, name, range(size)), C)
    for name, path in write_cards(root, SPACE).items():
        add_card(ports, name, "v0", path, space=SPACE)
    ingest_arrays(ports, ((i, pool_item(int(i[-6:]))[0]) for i in POOL), "test")
    (root / "s0-masks").mkdir()
    for i in range(WORLD.s0_size):
        (root / "s0-masks" / f"s0-{i:06d}.png").write_bytes(encode_png(sample(WORLD, "s0", i).mask))
    bounds = training_bounds(root / "s0-masks", C, progress=False)[0]
    control.start(ports, 1, "segformer", "v0", 2, 4, bounds, list(SPACE.names[1:]))
    run_inference(ports)
    run_discrepancy(ports)
    S, T = label_round(ports)
    train_round(ports, 1, CONFIG)
    yield ports, root, S, T
    ports.close()


def test_every_models_maps_are_stored_at_each_images_size_in_the_runs_space(round_):
    ports = round_[0]
    for image_id in POOL:
        height, width = SIZES[int(image_id[-6:]) % len(SIZES)]
        for name in ("segformer", "fcn8s", "unet", "wider"):
            label_map = decode_png(ports.blobs.get(prediction_key(name, "v0", image_id)))
            assert label_map.shape == (height, width), name
            assert set(np.unique(label_map)) <= {0, 1, 2, 3, 255}, name
    wider = np.concatenate([decode_png(ports.blobs.get(prediction_key("wider", "v0", i))).ravel() for i in POOL])
    assert (wider == 255).any() and (wider < 255).any()  # kite and moon are ignored, the rest is mapped


def test_mining_over_mixed_sizes_fills_the_heaps_of_every_competitor(round_):
    ports = round_[0]
    competitors = {h["competitor"] for h in control.candidates(ports, 1)["heaps"]}
    assert competitors == {"fcn8s", "unet", "wider"}
    assert control.candidates(ports, 1)["images"]


def test_the_segformer_target_is_fine_tuned_into_v1_with_its_card(round_):
    ports, _, S, T = round_
    assert S  # T may be empty on a pool this small; T0 evaluates every model
    for image_id in S + T:  # the accepted masks at each image's own size
        assert decode_png(ports.blobs.get(label_key(1, image_id))).shape == SIZES[int(image_id[-6:]) % len(SIZES)]
    v0, v1 = ports.catalog.model_version("segformer", "v0"), ports.catalog.model_version("segformer", "v1")
    assert v1 is not None and is_card(v1) and v1.parent_version == "v0" and v1.trained_on_round == 1
    assert v1.metrics["card"] == v0.metrics["card"] and v1.metrics["run_classes"] == list(SPACE.names)
    assert ports.blobs.get(v1.blob_key) != ports.blobs.get(v0.blob_key)  # new weights, same card
    assert ports.catalog.default_version("segformer") == "v1"
    images = [pool_item(i)[0] for i in range(4)]
    maps = ports.segmenter.predict("segformer", "v1", images)
    assert [m.shape for m in maps] == [image.shape[:2] for image in images]
    assert {e.model for e in ports.catalog.evaluations(1)} == {"segformer", "fcn8s", "unet", "wider"}


def test_models_list_shows_format_and_classes(round_, capsys, monkeypatch):
    root = round_[1]
    monkeypatch.setenv("SEGMAD_DATA_DIR", str(root))
    monkeypatch.setenv("SEGMAD_DATABASE_URL", f"sqlite:///{root / 'c.db'}")
    monkeypatch.setenv("SEGMAD_BLOB_URL", f"file://{root / 'blobs'}")
    assert main(["models", "list", "--format", "json"]) == 0
    rows = {(r["name"], r["version"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows["unet", "v0"]["format"] == "onnx" and rows["fcn8s", "v0"]["format"] == "torchscript"
    assert rows["wider", "v0"]["classes"] == ["void", "sun", "tile", "pyramid", "kite", "moon"]
    assert rows["segformer", "v1"]["default"] and not rows["segformer", "v0"]["default"]


def test_models_add_checks_a_card_before_storing_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEGMAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SEGMAD_DATABASE_URL", raising=False)
    monkeypatch.delenv("SEGMAD_BLOB_URL", raising=False)
    monkeypatch.setenv("SEGMAD_CLASSES", "background,sun,tile,pyramid")
    monkeypatch.setenv("SEGMAD_NUM_CLASSES", "3")
    cases = {
        "missing.json": {"format": "torchscript", "artefact": "nowhere.pt", "classes": ["background"]},
        "rank.json": {"format": "python", "entry": "tests.unit.card_models:flat_scores", "classes": ["a", "b", "c"],
                      "label_map": {"a": "background"}},
        "unmapped.json": {"format": "python", "entry": "tests.unit.card_models:quarter", "classes": ["a", "b", "c", "d"],
                          "output": {"key": "logits"}},
        "module.json": {"format": "python", "entry": "nope.nothing:build", "classes": ["background"]},
    }
    for file, card in cases.items():
        (tmp_path / file).write_text(json.dumps(card))
        code = main(["models", "add", "m", "--card", str(tmp_path / file), "--role", "competitor"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, (file, err)
    assert not (tmp_path / "blobs").exists() or not any((tmp_path / "blobs").rglob("*.pt"))
    many = {"format": "python", "entry": "tests.unit.card_models:quarter", "output": {"key": "logits"},
            "classes": [f"thing{k}" for k in range(12)]}
    (tmp_path / "many.json").write_text(json.dumps(many))
    assert main(["models", "add", "m", "--card", str(tmp_path / "many.json"), "--role", "competitor"]) == 2
    assert "(thing0, thing1, thing2, thing3, thing4, thing5, thing6, thing7, … (12 in all))" in capsys.readouterr().err
    good = {"format": "python", "entry": "tests.unit.card_models:quarter", "output": {"key": "logits"},
            "classes": ["background", "sun", "tile", "pyramid"]}
    (tmp_path / "good.json").write_text(json.dumps(good))
    assert main(["models", "add", "m", "--card", str(tmp_path / "good.json"), "--role", "competitor"]) == 0
    assert "added competitor m@v0 (python:tests.unit.card_models:quarter)" in capsys.readouterr().out


def test_an_onnx_target_is_trained_by_its_cards_hook_and_checked_before_it_is_registered(tmp_path, monkeypatch):
    """A model segmad cannot fine-tune: the card's command gets S ∪ S0 and T0 in VOC layout (masks in the
    model's own classes) and the parent's artefact; what it writes becomes v1 once it runs on probe images."""
    import sys
    from pathlib import Path

    from segmad.catalog.records import RoundSettings

    ports = bootstrap.build(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'c.db'}",
                                     blob_url=f"file://{tmp_path / 'blobs'}", bus="memory"))
    try:
        for name in ("s0", "t0"):
            size = WORLD.s0_size if name == "s0" else WORLD.t0_size
            sets.put_set(ports, name, [f"{name}-{i:06d}" for i in range(size)], *stack(WORLD, name, range(size)), C)
        paths = write_cards(tmp_path, SPACE)
        card = json.loads(Path(paths["unet"]).read_text()) | {"role": "target", "classes": ["void", "sun", "tile", "pyramid"],
                                                              "label_map": {"void": "background"}}
        script = Path(__file__).with_name("hook_train.py")
        card["train"] = {"command": f"{sys.executable} {script} --data {{data}} --init {{init}} --out {{out}}"}
        (tmp_path / "target.json").write_text(json.dumps(card))
        add_card(ports, "target", "v0", tmp_path / "target.json", space=SPACE)
        add_card(ports, "fcn8s", "v0", paths["fcn8s"], space=SPACE)
        ingest_arrays(ports, ((i, pool_item(int(i[-6:]))[0]) for i in POOL[:6]), "test")
        settings = RoundSettings(competitors=(("fcn8s", "v0"),), num_classes=C)
        ports.catalog.start_round(1, "target", "v0", 2, 3, settings, state="training")
        ports.catalog.set_round_images(1, "counterexamples", POOL[:3])
        for image_id in POOL[:3]:
            ports.blobs.put(label_key(1, image_id), encode_png(pool_item(int(image_id[-6:]))[1]))
        monkeypatch.setenv("HOOK_REPORT", str(tmp_path / "hook.json"))
        v1 = train_round(ports, 1, CONFIG)
        seen = json.loads((tmp_path / "hook.json").read_text())
        assert seen["train"] == 3 + WORLD.s0_size and seen["val"] == WORLD.t0_size
        assert seen["classes"] == ["void", "sun", "tile", "pyramid"] and set(seen["labels"]) <= {0, 1, 2, 3, 255}
        assert v1.version == "v1" and v1.metrics["trained_by"] == "hook" and v1.metrics["format"] == "onnx"
        assert ports.blobs.get(v1.blob_key) != ports.blobs.get(ports.catalog.model_version("target", "v0").blob_key)
        assert ports.catalog.default_version("target") == "v1"
        maps = ports.segmenter.predict("target", "v1", [pool_item(0)[0], pool_item(1)[0]])
        assert [m.shape for m in maps] == [SIZES[0], SIZES[1]]

        # A hook that fails: the round stays in training, nothing is registered, the message says why.
        card["train"] = {"command": f"{sys.executable} -c 'import sys; sys.exit(\"no GPU {{data}} {{out}}\")'"}
        (tmp_path / "broken.json").write_text(json.dumps(card))
        add_card(ports, "broken", "v0", tmp_path / "broken.json", role="target", space=SPACE)
        ports.catalog.start_round(2, "broken", "v0", 2, 3, settings, state="training")
        ports.catalog.set_round_images(2, "counterexamples", POOL[3:5])
        for image_id in POOL[3:5]:
            ports.blobs.put(label_key(2, image_id), encode_png(pool_item(int(image_id[-6:]))[1]))
        with pytest.raises(Exception, match="exited with status 1: no GPU"):
            train_round(ports, 2, CONFIG)
        assert ports.catalog.model_version("broken", "v2") is None and ports.catalog.round(2).state == "training"
    finally:
        ports.close()


def test_an_image_a_cards_model_fails_on_leaves_the_pool_and_the_others_are_predicted(tmp_path):
    """Pool mining with a competitor that fails on wide images: those are marked unusable with the model's
    error, every other image gets every map, and the round's pool leaves them out."""
    from segmad.inference.handler import InferenceHandler

    ports = bootstrap.build(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'c.db'}",
                                     blob_url=f"file://{tmp_path / 'blobs'}", bus="memory"))
    try:
        paths = write_cards(tmp_path, SPACE)
        add_card(ports, "fcn8s", "v0", paths["fcn8s"], role="target", space=SPACE)
        (tmp_path / "narrow.json").write_text(json.dumps({"format": "python", "role": "competitor",
                                                          "entry": "tests.unit.card_models:fails_on_wide",
                                                          "classes": list(SPACE.names)}))
        import segmad.publish.register as register

        real_check, register.check_card_model = register.check_card_model, lambda model: None  # probes are wide
        try:
            add_card(ports, "narrow", "v0", tmp_path / "narrow.json", space=SPACE)
        finally:
            register.check_card_model = real_check
        ingest_arrays(ports, ((i, pool_item(int(i[-6:]))[0]) for i in POOL[:8]), "test")
        handler = InferenceHandler(ports, C, batch_size=8)
        handler._predict([ModelRef("fcn8s", "v0"), ModelRef("narrow", "v0")], POOL[:8])
        wide = {i for i in POOL[:8] if SIZES[int(i[-6:]) % len(SIZES)][1] > 90}
        assert wide and set(ports.catalog.unusable_images()) == wide
        for image_id in set(POOL[:8]) - wide:
            assert ports.catalog.prediction(image_id, "narrow", "v0") is not None
            assert ports.catalog.prediction(image_id, "fcn8s", "v0") is not None
    finally:
        ports.close()


def test_models_list_cuts_a_long_class_list_at_a_whole_name_and_says_how_many():
    from segmad.commands.models import _names

    assert _names(["void", "sun"]) == "void, sun"
    assert _names("C = 8") == "C = 8"
    names = [f"class-{k:03d}" for k in range(150)]
    text = _names(names)
    assert text.endswith(", … (150 in all)") and len(text) <= 60 + len(", … (150 in all)")
    assert text.split(", …")[0].split(", ") == names[:5]
