"""segmad's TorchServe handler, run in this process on a fake TorchServe context (no server)."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from segmad.adapters.torchserve_archive import HANDLER, ModelSpec, build_mar
from segmad.codec import decode_png, encode_png, pack, unpack
from segmad.models import build
from segmad.models.predict import predict_with_entropy
from segmad.publish.archive import script_checkpoint
from segmad.zoo import store


def load_handler_module():
    spec = importlib.util.spec_from_file_location("segmad_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeContext:
    """The parts of TorchServe's Context the handler touches."""

    def __init__(self, model_dir: Path, serialized: str):
        self.system_properties = {"model_dir": str(model_dir)}
        self.manifest = {"model": {"serializedFile": serialized}}
        self.headers: dict[int, dict[str, str]] = {}

    def set_response_content_type(self, idx, value):
        self.headers.setdefault(idx, {})["Content-Type"] = value

    def set_response_header(self, idx, key, value):
        self.headers.setdefault(idx, {})[key] = value


class DictOut(nn.Module):
    """A torchvision-style module: logits under "out"."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return {"out": self.inner(x)}


def world_like_images(n: int, size: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory):
    """(an unpacked-archive folder holding a traced zoo checkpoint and its sidecar, the eager model)."""
    folder = tmp_path_factory.mktemp("model_dir")
    torch.manual_seed(0)
    model = build("lraspp", 2).eval()
    store.save(folder / "ckpt.pt", model, {"arch": "lraspp", "num_classes": 2, "input_size": 64})
    script_checkpoint(folder / "ckpt.pt", folder / "model.pt")  # tracing is the slow part: once per module
    (folder / "segmad_model.json").write_text(json.dumps(
        {"input_size": [64, 64], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "class_names": ["a", "b", "c"]}))
    return folder, model


@pytest.fixture
def zoo_served(zoo_dir):
    """(handler initialised on the traced zoo checkpoint, the eager model, the context)."""
    folder, model = zoo_dir
    handler = load_handler_module().SegmadHandler()
    context = FakeContext(folder, "model.pt")
    handler.initialize(context)
    return handler, model, context


def test_each_request_gets_the_png_label_map_of_the_in_process_model(zoo_served):
    handler, model, context = zoo_served
    images = world_like_images(3)
    bodies = handler.handle([{"body": encode_png(image)} for image in images], context)
    expected, _ = predict_with_entropy(model, images)
    assert np.array_equal(np.stack([decode_png(b) for b in bodies]), expected)


def test_each_response_carries_its_entropy_and_png_content_type(zoo_served):
    handler, model, context = zoo_served
    images = world_like_images(2)
    handler.handle([{"data": bytearray(encode_png(image))} for image in images], context)
    _, expected = predict_with_entropy(model, images)
    assert [float(context.headers[i]["X-Segmad-Entropy"]) for i in range(2)] == pytest.approx(expected, rel=1e-4)
    assert {context.headers[i]["Content-Type"] for i in range(2)} == {"image/png"}


def test_maps_and_entropies_are_the_same_image_by_image_and_batch_at_once(zoo_served):
    handler, model, _ = zoo_served
    logits = torch.randn(3, 9, 16, 16, generator=torch.Generator().manual_seed(0)) * 3
    handler.sizes = []
    per_image, at_once = handler.postprocess(logits, per_image=True), handler.postprocess(logits, per_image=False)
    assert per_image[0] == at_once[0] and len(at_once[1]) == 3
    p = torch.softmax(logits.double(), 1)
    assert at_once[1] == pytest.approx((-(p * p.log()).sum(1)).mean((1, 2)).tolist(), rel=1e-5)
    assert per_image[1] == pytest.approx(at_once[1], rel=1e-6)


def test_an_image_of_another_size_is_labelled_at_the_input_size_and_answered_at_its_own(zoo_served):
    handler, model, context = zoo_served
    image = world_like_images(1, size=40)[0]
    answered = decode_png(handler.handle([{"body": encode_png(image)}], context)[0])
    assert answered.shape == (40, 40)
    # The model sees the image stretched to its 64×64 input; the map comes back nearest-resized.
    from segmad.cards.labels import resize_nearest

    stretched = np.asarray(Image.fromarray(image).resize((64, 64), Image.BILINEAR))
    expected = resize_nearest(predict_with_entropy(model, stretched[None])[0][0], 40, 40)
    assert np.array_equal(answered, expected)


def test_a_jpeg_body_is_accepted(zoo_served):
    handler, _, context = zoo_served
    buffer = io.BytesIO()
    Image.fromarray(world_like_images(1)[0]).save(buffer, format="JPEG")
    assert decode_png(handler.handle([{"body": buffer.getvalue()}], context)[0]).shape == (64, 64)


def test_logits_under_out_are_used(zoo_served):
    handler, model, context = zoo_served
    handler.model = DictOut(model).eval()
    images = world_like_images(1)
    expected, _ = predict_with_entropy(model, images)
    assert np.array_equal(decode_png(handler.handle([{"body": encode_png(images[0])}], context)[0]), expected[0])


def test_requests_of_several_images_beside_single_ones_get_their_maps_in_order(zoo_served):
    """A batch mixing packs (segmad's client) and single images (curl): each request's answer in its own form."""
    handler, model, context = zoo_served
    images = world_like_images(6)
    sizes = [64, 40, 64, 48, 64, 64]
    images = [np.asarray(Image.fromarray(image).resize((s, s))) for image, s in zip(images, sizes)]
    rows = [{"body": pack([encode_png(i) for i in images[:3]])}, {"body": encode_png(images[3])},
            {"data": bytearray(pack([encode_png(i) for i in images[4:]]))}]
    answers = handler.handle(rows, context)
    alone = FakeContext(None, "")
    one_by_one = [decode_png(handler.handle([{"body": encode_png(image)}], alone)[0]) for image in images]
    entropies = [float(alone.headers[0]["X-Segmad-Entropy"]) for _ in [0]]  # the last image's, alone
    got = [decode_png(m) for m in unpack(answers[0])] + [decode_png(answers[1])] + [decode_png(m) for m in unpack(answers[2])]
    assert [m.shape for m in got] == [(s, s) for s in sizes]
    assert all(np.array_equal(a, b) for a, b in zip(got, one_by_one))
    assert [h["Content-Type"] for h in (context.headers[0], context.headers[1], context.headers[2])] == [
        "application/octet-stream", "image/png", "application/octet-stream"]
    assert len(context.headers[0]["X-Segmad-Entropy"].split(",")) == 3
    assert float(context.headers[2]["X-Segmad-Entropy"].split(",")[1]) == pytest.approx(entropies[0], rel=1e-5)


def test_the_handlers_pack_is_segmads(zoo_served):
    """The handler is standalone (TorchServe's Python lacks segmad): its copy of the pack format is the client's."""
    module = load_handler_module()
    blobs = [b"", b"\x89PNG", bytes(range(256)) * 3]
    assert module.pack(blobs) == pack(blobs) and module.unpack(pack(blobs)) == blobs == unpack(module.pack(blobs))
    for broken in (pack(blobs)[:-1], pack(blobs) + b"x", b"SGMD\x00\x00\x00\x00", b"PNG"):
        for read in (unpack, module.unpack):
            with pytest.raises(ValueError):
                read(broken)


@pytest.mark.parametrize("shape", [(1, 1), (64, 64), (3, 517), (513, 513)])
def test_the_handlers_label_maps_are_pngs_any_reader_reads_as_segmad_writes_them(shape):
    module = load_handler_module()
    labels = np.random.default_rng(1).integers(0, 21, shape, dtype=np.uint8)
    labels[: shape[0] // 2] = 3  # runs, as real maps have
    written = module.encode_png(labels)
    with Image.open(io.BytesIO(written)) as picture:  # Pillow checks the chunks' CRCs as it reads
        assert picture.mode == "L" and np.array_equal(np.asarray(picture), labels)
    assert np.array_equal(decode_png(written), labels)
    assert written[:33] == encode_png(labels)[:33]  # signature and header: segmad's own label-map form


def test_a_request_without_an_image_body_is_refused(zoo_served):
    handler, _, context = zoo_served
    with pytest.raises(ValueError, match="encoded image"):
        handler.handle([{"body": {"not": "an image"}}], context)


def test_the_archive_holds_the_module_the_handler_and_the_spec(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"module")
    spec = ModelSpec((32, 48), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), ("background", "red"))
    mar = build_mar("tiny", "2", tmp_path / "model.pt", spec, tmp_path / "store")
    with zipfile.ZipFile(mar) as archive:
        manifest = json.loads(archive.read("MAR-INF/MANIFEST.json"))
        sidecar = json.loads(archive.read("segmad_model.json"))
        assert {"model.pt", "segmad_handler.py"} <= set(archive.namelist())
    assert (mar.name, manifest["model"]["modelVersion"]) == ("tiny-2.mar", "2")
    assert sidecar == {"input_size": [32, 48], "mean": [0.5] * 3, "std": [0.25] * 3, "class_names": ["background", "red"]}


def test_a_worker_runs_on_the_gpu_torchserve_gives_it_when_torch_sees_cuda(monkeypatch):
    handler_module = load_handler_module()
    assert handler_module.device_for({"model_dir": "x"}) == torch.device("cpu")  # a server without GPUs
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert handler_module.device_for({"gpu_id": 1}) == torch.device("cpu")  # a GPU id, but no CUDA build or device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert handler_module.device_for({"gpu_id": 1}) == torch.device("cuda", 1)
    assert handler_module.device_for({"gpu_id": "0"}) == torch.device("cuda", 0)


def test_a_worker_given_a_gpu_id_on_a_machine_without_cuda_serves_on_the_cpu(zoo_dir):
    folder, model = zoo_dir
    handler = load_handler_module().SegmadHandler()
    context = FakeContext(folder, "model.pt")
    context.system_properties["gpu_id"] = 0
    handler.initialize(context)
    images = world_like_images(2)
    (answer,) = handler.handle([{"body": pack([encode_png(image) for image in images])}], context)
    expected, _ = predict_with_entropy(model, images)
    if torch.cuda.is_available():
        assert handler.device.type == "cuda"
    else:
        assert handler.device == torch.device("cpu")
    assert all(np.array_equal(decode_png(png), m) for png, m in zip(unpack(answer), expected))


def test_the_cards_bundle_runs_a_card_with_nothing_else_of_segmad(tmp_path):
    """What a card's archive carries is enough: TorchServe's Python need not have segmad installed."""
    from segmad.adapters.torchserve_archive import cards_bundle

    bundle = str(cards_bundle(tmp_path / "cards.zip"))
    program = f"""
import sys
sys.path.insert(0, {bundle!r})
import numpy as np
import segmad
assert segmad.__file__.startswith({bundle!r}), segmad.__file__
from segmad.cards.card import parse_card
from segmad.cards.labels import LabelSpace
from segmad.cards.runner import CardModel
card = parse_card({{"format": "python", "entry": "torch.nn:Conv2d", "classes": ["a", "b", "c"], "device": "cpu",
                   "kwargs": {{"in_channels": 3, "out_channels": 3, "kernel_size": 1}}}})
maps, entropy = CardModel(card, LabelSpace(("a", "b", "c"))).predict([np.full((8, 8, 3), 90, np.uint8)])
assert maps[0].shape == (8, 8) and 0 < entropy[0] <= np.log(3) + 1e-6, entropy
print(sorted(name for name in sys.modules if name.startswith("segmad")))
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "segmad.scores" in done.stdout and "segmad.models" not in done.stdout
