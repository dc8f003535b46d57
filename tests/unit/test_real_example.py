"""The worked example's code path without its downloads: a TFLite-like and an ISNet-like ONNX card in a round.

`make real-example` runs MediaPipe's TFLite models and ISNet on photographs it fetches; here a fake
interpreter shaped like ai_edge_litert's and a tiny ONNX model with ISNet's one-channel sigmoid map
(batch fixed at 1, half-resolution output) go through the same cards, round and report.
"""

from __future__ import annotations

import hashlib
import html
import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from segmad import bootstrap
from segmad.catalog.states import WEAK_RATING
from segmad.codec import decode_png
from segmad.errors import InputError
from segmad.examples.binary import two_classes
from segmad.examples.fetch import reassemble
from segmad.examples.run import ExampleConfig, play_round
from segmad.examples.tflite import TFLiteSegmenter
from segmad.labelling import accounts
from segmad.mad import discrepancy
from segmad.pipeline.keys import prediction_key
from segmad.settings import Settings

pytest.importorskip("onnxruntime")
SIZE = (32, 48)  # the fake TFLite model's fixed input (h, w)


class FakeInterpreter:
    """ai_edge_litert's Interpreter as the wrapper uses it: landmarks, then a (1, h, w, 1) logit map of red > green."""

    def __init__(self):
        self.tensors = {}

    def get_input_details(self):
        return [{"name": "input_1", "index": 0, "shape": np.array([1, *SIZE, 3])}]

    def get_output_details(self):
        return [{"name": "Identity", "index": 1, "shape": np.array([1, 195])},
                {"name": "Identity_2", "index": 2, "shape": np.array([1, *SIZE, 1])}]

    def set_tensor(self, index, value):
        assert value.shape == (1, *SIZE, 3) and value.dtype == np.float32
        self.tensors[index] = value

    def invoke(self):
        x = self.tensors[0]
        self.tensors[1] = np.zeros((1, 195), np.float32)
        self.tensors[2] = 40 * (x[..., :1] - x[..., 1:2])  # logits: person where red beats green

    def get_tensor(self, index):
        return self.tensors[index]


def fake_tflite(kind: str = "logits") -> TFLiteSegmenter:
    """What segmad.examples.tflite:tflite_model returns, around the fake interpreter (a card's entry)."""
    return TFLiteSegmenter(FakeInterpreter(), None, kind)


class RedOverBlue(nn.Module):
    """ISNet's shape of answer: one sigmoid map (person where red beats blue), at half the input's size."""

    def forward(self, x):
        return torch.sigmoid(40 * nn.functional.avg_pool2d(x[:, :1] - x[:, 2:3], 2))


def cards(folder) -> dict:
    """The target (TFLite-like python card) and the competitor (ISNet-like ONNX behind the python wrapper)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(RedOverBlue(), (torch.zeros(1, 3, 64, 64),), str(folder / "tiny.onnx"), dynamo=False,
                          input_names=["input"], output_names=["output"])
    specs = {
        "tflite_like": {"format": "python", "entry": "tests.unit.test_real_example:fake_tflite",
                        "preprocess": {"resize": {"policy": "fixed", "size": list(SIZE)}, "mean": [0, 0, 0],
                                       "std": [1, 1, 1], "layout": "nhwc"},
                        "output": {"kind": "probabilities"}, "classes": ["background", "person"], "device": "cpu"},
        "isnet_like": {"format": "python", "entry": "segmad.examples.onnx_person:onnx_model",
                       "kwargs": {"path": str(folder / "tiny.onnx"), "output": "output", "threads": 1},
                       "preprocess": {"resize": {"policy": "fixed", "size": [64, 64]}, "scale": 1,
                                      "mean": [128, 128, 128], "std": [256, 256, 256]},
                       "output": {"kind": "probabilities"}, "classes": ["background", "person"], "device": "cpu",
                       "batch_size": 1},
    }
    paths = {}
    for name, spec in specs.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(spec))
    return paths


def photos(folder, count: int = 12):
    """Images of mixed sizes: a red, green or blue background with a block of another colour."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    colours = np.array([[220, 30, 30], [30, 220, 30], [30, 30, 220], [200, 40, 180]], np.uint8)
    for i in range(count):
        h, w = (40 + 8 * (i % 4), 56 + 12 * (i % 3))
        image = np.broadcast_to(colours[i % 3], (h, w, 3)).copy()
        y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
        image[y:y + h // 2, x:x + w // 2] = colours[(i + 1 + i // 3) % 4]
        Image.fromarray(image).save(folder / f"photo-{i:02d}<&>.png")
    return folder


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    root = tmp_path_factory.mktemp("real-example")
    ports = bootstrap.build(Settings(data_dir=root, database_url=f"sqlite:///{root / 'c.db'}",
                                     blob_url=f"file://{root / 'blobs'}", bus="memory", num_classes=1))
    config = ExampleConfig(out=root, target="tflite_like", n3=4, test_size=1, top=5)
    method, accounts.PASSWORD_METHOD = accounts.PASSWORD_METHOD, "pbkdf2:sha256:1000"  # nobody signs in here
    try:
        result = play_round(ports, cards(root), photos(root / "photos"), config, say=lambda line: None)
    finally:
        accounts.PASSWORD_METHOD = method
    yield ports, root, result
    ports.close()


def test_two_classes_makes_background_explicit_from_probabilities_or_logits():
    assert two_classes(np.array([[[0.25, 1.5]]]), "probabilities").tolist() == [[[[0.75, 0.0]], [[0.25, 1.0]]]]
    assert two_classes(np.array([[[0.0]]]), "logits")[0, :, 0, 0].tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match="kind"):
        two_classes(np.zeros((1, 1, 1)), "softmax")


def test_reassemble_joins_content_addressed_chunks_and_refuses_a_damaged_one(tmp_path):
    parts = [b"a" * 5, b"bc"]
    names = [hashlib.sha256(p).hexdigest() for p in parts]
    for name, part in zip(names, parts):
        (tmp_path / name).write_bytes(part)
    chunks = [{"hash": names[0], "offsets": [0, 5]}, {"hash": names[1], "offsets": [5, 7]}]
    (tmp_path / "resources.json").write_text(json.dumps({"/models/m": {"chunks": chunks, "size": 7}}))
    assert reassemble(tmp_path, "/models/m", tmp_path / "m.onnx").read_bytes() == b"aaaaabc"
    (tmp_path / names[1]).write_bytes(b"bd")
    with pytest.raises(InputError, match="damaged"):
        reassemble(tmp_path, "/models/m", tmp_path / "again.onnx")


def test_the_tflite_wrapper_reads_the_map_output_and_names_the_size_it_needs():
    model = fake_tflite()
    red = np.zeros((2, *SIZE, 3), np.float32)
    red[0, ..., 0] = 1.0
    scores = model(red)
    assert scores.shape == (2, 2, *SIZE)
    assert (scores[0, 1] > 0.99).all() and (scores[1, 0] == 0.5).all()  # red: person; black: logit 0
    assert model(red.transpose(0, 3, 1, 2)).tolist() == scores.tolist()  # NCHW works too
    with pytest.raises(ValueError, match=r"size: \[32, 48\]"):
        model(np.zeros((1, 16, 16, 3), np.float32))


def test_every_photo_gets_both_maps_at_its_own_size(played):
    ports, root, result = played
    images = ports.catalog.images_by_id(ports.catalog.image_ids())
    assert result["pool"] == len(images) == 12
    for image_id, image in images.items():
        for model in ("tflite_like", "isnet_like"):
            label_map = decode_png(ports.blobs.get(prediction_key(model, "v0", image_id)))
            assert label_map.shape == (image.height, image.width) and set(np.unique(label_map)) <= {0, 1}


def test_mining_opens_the_weak_rating_campaign_for_the_raters(played):
    ports, root, result = played
    row = ports.catalog.round(result["round"])
    assert row.state == WEAK_RATING and row.settings.campaigns.weak == result["campaign"]
    assert result["m_size"] >= 1 and set(json.loads((root / "raters.json").read_text())) == {"rater-1", "rater-2"}


def test_the_report_shows_both_maps_of_each_top_candidate_with_its_d(played):
    ports, root, result = played
    page = (root / "report" / "index.html").read_text()
    assert result["top"] and [r["rank"] for r in result["top"]] == list(range(1, len(result["top"]) + 1))
    for row in result["top"]:
        assert (root / "report" / row["target_png"]).is_file() and (root / "report" / row["competitor_png"]).is_file()
        ours = decode_png(ports.blobs.get(prediction_key("tflite_like", "v0", row["image"])))
        theirs = decode_png(ports.blobs.get(prediction_key("isnet_like", "v0", row["image"])))
        assert row["d"] == pytest.approx(discrepancy(ours, theirs), abs=1e-4) and row["d"] > 0
        assert html.escape(row["source"]) in page and "<&>" not in page
    assert [r["d"] for r in result["top"]] == sorted((r["d"] for r in result["top"]), reverse=True)
    assert set(result["d_to_target"]) == {"isnet_like"}
