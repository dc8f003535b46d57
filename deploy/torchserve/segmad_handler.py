"""TorchServe handler for segmad: image bytes in, a PNG label map out (and its entropy in a header).

One handler for every model segmad publishes. The .mar holds a TorchScript module mapping a
normalised (N, 3, H, W) float batch to logits (N, C, H, W) or {"out": logits}, and beside it
`segmad_model.json`: {"input_size": [H, W], "mean": [r, g, b], "std": [r, g, b], "class_names": [...]}
with mean/std on the 0..1 scale (torchvision's convention). Each request body is one encoded image
(PNG, JPEG, ...); it is resized to the declared input size (bilinear), and the label map is resized
back to the image's own size (nearest neighbour): an 8-bit greyscale PNG whose pixel values are
class indices. The response header X-Segmad-Entropy carries the image's mean per-pixel softmax
entropy in nats.

A request may carry several images in one body (what segmad's client sends: one request per few
images instead of one per image, which is most of TorchServe's cost for small images): the
container b"SGMD", a big-endian uint32 count, then per image a uint32 length and its encoded
bytes. The answer is the same container of PNG label maps, in order, and X-Segmad-Entropy lists
their entropies separated by commas.

A model registered from a card (segmad.cards: TorchScript, ONNX or Python) is archived instead with
`segmad_card.json` ({"card": ..., "run_classes": [...]}), its artefact as the serialized file, and
`segmad_cards.zip`, the source of segmad.cards: the handler runs the card with it, so maps come back
at each image's size in the run's label space. A Python card's entry module must be importable in
TorchServe's Python (install the team's package into the TorchServe image); ONNX needs onnxruntime.

Standalone on purpose: TorchServe workers (e.g. the pytorch/torchserve image) do not have segmad.
Exactly one class lives here because TorchServe instantiates the module's only class.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import warnings
import zlib

import numpy as np
import torch
from PIL import Image

SIDECAR = "segmad_model.json"
CARD_SIDECAR = "segmad_card.json"
CARDS_BUNDLE = "segmad_cards.zip"
ENTROPY_HEADER = "X-Segmad-Entropy"
PACK_MAGIC = b"SGMD"  # several encoded images (or label maps) in one body: see pack / unpack
LABEL_MAP_LEVEL = 2  # deflate level of the label maps, segmad.codec's


class SegmadHandler:
    """initialize once per worker, then handle(batch of requests) -> one PNG per request."""

    def __init__(self):
        self.model = None
        self.card_model = None  # a card's model (segmad.cards.runner.CardModel)
        self.sizes: list[tuple[int, int]] = []  # the images' own (H, W), to answer maps at that size
        self.spec: dict = {}
        self.device = torch.device("cpu")
        self.initialized = False

    def initialize(self, context) -> None:
        """Load the TorchScript module and its sidecar from the unpacked archive."""
        model_dir = context.system_properties["model_dir"]
        serialized = context.manifest["model"]["serializedFile"]
        self.device = device_for(context.system_properties)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)  # a card's model asks for "cuda": this worker's GPU
        if os.path.exists(os.path.join(model_dir, CARD_SIDECAR)):
            self.card_model = load_card_model(model_dir, serialized)
            self.initialized = True
            return
        with open(os.path.join(model_dir, SIDECAR)) as handle:
            self.spec = json.load(handle)
        self.model = load_module(os.path.join(model_dir, serialized), self.device)
        self.initialized = True

    def preprocess(self, bodies: list[bytes]) -> torch.Tensor:
        """Encoded images -> normalised float32 (N, 3, H, W) at the declared input size."""
        height, width = self.spec["input_size"]
        originals = [Image.open(io.BytesIO(body)) for body in bodies]
        self.sizes = [(image.height, image.width) for image in originals]
        images = np.stack([fit(image, (width, height)) for image in originals])  # (N, H, W, 3)
        mean = np.asarray(self.spec["mean"], np.float32) * 255.0
        std = np.asarray(self.spec["std"], np.float32) * 255.0
        x = images.astype(np.float32)
        x -= mean
        x /= std
        # (N, H, W, 3) seen as (N, 3, H, W): channels-last strides, the layout `inference` runs in, so
        # neither side copies the batch to reorder it
        return torch.from_numpy(x).permute(0, 3, 1, 2)

    def inference(self, x: torch.Tensor) -> torch.Tensor:
        """float32 logits (N, C, H, W)."""
        with torch.inference_mode():
            out = self.model(x.to(self.device).contiguous(memory_format=torch.channels_last))
        return (out["out"] if isinstance(out, dict) else out).float()

    def postprocess(self, logits: torch.Tensor, per_image: bool | None = None) -> tuple[list[bytes], list[float]]:
        """One PNG label map per image and each image's mean per-pixel entropy in nats; on the CPU image by
        image (per_image), where a large image's logits stay in the cache, on a GPU the batch at once."""
        labels, entropies = [], []
        per_image = logits.device.type == "cpu" if per_image is None else per_image
        for one in logits.split(1) if per_image else (logits,):
            # H = log Z - sum(e * z) / Z with z = logits - max, e = exp(z), Z = sum(e); the max gives the label
            top, label = one.max(1, keepdim=True)
            z = one - top
            e = z.exp()
            total = e.sum(1)
            labels.append(label[:, 0].to(torch.uint8))
            entropies.append((total.log() - (e * z).sum(1) / total).clamp_min(0.0).mean((1, 2)))  # per image
        maps = torch.cat(labels).cpu().numpy()                            # (N, H, W)
        sizes = self.sizes or [m.shape for m in maps]
        return ([encode_png(resize_nearest(m, *size)) for m, size in zip(maps, sizes)],
                [float(e) for e in torch.cat(entropies).double().cpu()])

    def handle(self, data: list[dict], context) -> list[bytes]:
        """TorchServe's entry point: a batch of requests (each one image, or a pack of several) -> one
        body per request (a PNG, or a pack of PNGs in the request's order)."""
        requests = [body_of(row) for row in data]
        packed = [body.startswith(PACK_MAGIC) for body in requests]
        per_request = [unpack(body) if is_pack else [body] for body, is_pack in zip(requests, packed)]
        bodies = [body for images in per_request for body in images]
        if self.card_model is not None:
            maps, entropy = self.card_model.predict([decode(body, None) for body in bodies])
            pngs, entropies = [encode_png(m) for m in maps], [float(e) for e in entropy]
        else:
            pngs, entropies = self.postprocess(self.inference(self.preprocess(bodies)))
        answers, start = [], 0
        for idx, (images, is_pack) in enumerate(zip(per_request, packed)):
            end = start + len(images)
            if is_pack:
                answers.append(pack(pngs[start:end]))
                context.set_response_content_type(idx, "application/octet-stream")
                context.set_response_header(idx, ENTROPY_HEADER, ",".join(repr(e) for e in entropies[start:end]))
            else:
                answers.append(pngs[start])
                context.set_response_content_type(idx, "image/png")
                context.set_response_header(idx, ENTROPY_HEADER, repr(entropies[start]))
            start = end
        return answers


def device_for(properties: dict) -> torch.device:
    """The GPU TorchServe gave this worker (`gpu_id`, set when the server has GPUs) when torch sees CUDA,
    else the CPU."""
    gpu = properties.get("gpu_id")
    if gpu is not None and torch.cuda.is_available():
        return torch.device("cuda", int(gpu))
    return torch.device("cpu")


def load_module(path: str, device: torch.device = torch.device("cpu")) -> torch.nn.Module:
    """A TorchScript module on `device`, in eval mode."""
    # TorchScript is the format TorchServe's eager runtime loads without the model's source code;
    # torch marks it deprecated but it still works, and the warning would fail strict runs.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(path, map_location=device)
    return module.eval()


def body_of(row: dict) -> bytes:
    """The raw bytes of one request (TorchServe puts them under 'data' or 'body')."""
    body = row.get("data") if row.get("data") is not None else row.get("body")
    if not isinstance(body, (bytes, bytearray)):
        raise ValueError("expected an encoded image as the request body")
    return bytes(body)


def pack(blobs: list[bytes]) -> bytes:
    """Several byte strings in one body: b"SGMD", uint32 count, then uint32 length + bytes each (big-endian)."""
    parts = [PACK_MAGIC, len(blobs).to_bytes(4, "big")]
    for blob in blobs:
        parts += [len(blob).to_bytes(4, "big"), blob]
    return b"".join(parts)


def unpack(body: bytes) -> list[bytes]:
    """The byte strings of a pack; ValueError if the body is not a whole one."""
    if not body.startswith(PACK_MAGIC) or len(body) < 8:
        raise ValueError("not a pack of images")
    count, at, blobs = int.from_bytes(body[4:8], "big"), 8, []
    for _ in range(count):
        size = int.from_bytes(body[at:at + 4], "big")
        if at + 4 + size > len(body):
            raise ValueError("a pack of images cut short")
        blobs.append(body[at + 4:at + 4 + size])
        at += 4 + size
    if at != len(body) or not blobs:
        raise ValueError("a pack of images with trailing bytes or no image")
    return blobs


def load_card_model(model_dir: str, serialized: str):
    """The card's model, run by the segmad.cards source the archive carries."""
    sys.path.insert(0, os.path.join(model_dir, CARDS_BUNDLE))  # the archive's copy, first: what was archived runs
    import pkgutil

    import segmad

    # The bundle holds only segmad.cards: a python card's entry in another segmad package (segmad.examples)
    # comes from an installed segmad, when there is one.
    segmad.__path__ = pkgutil.extend_path(segmad.__path__, segmad.__name__)
    from segmad.cards.card import parse_card
    from segmad.cards.labels import LabelSpace
    from segmad.cards.runner import CardModel

    with open(os.path.join(model_dir, CARD_SIDECAR)) as handle:
        spec = json.load(handle)
    with open(os.path.join(model_dir, serialized), "rb") as handle:
        artefact = handle.read()
    with warnings.catch_warnings():  # TorchScript is deprecated in torch but still what many teams export
        warnings.simplefilter("ignore", DeprecationWarning)
        return CardModel(parse_card(spec["card"], base_dir=model_dir, stored=True), LabelSpace(tuple(spec["run_classes"])),
                         artefact or None)


def decode(body: bytes, size: tuple[int, int] | None) -> np.ndarray:
    """uint8 (H, W, 3) RGB of an encoded image, resized bilinearly to size = (W, H) if one is given."""
    return fit(Image.open(io.BytesIO(body)), size)


def fit(image: Image.Image, size: tuple[int, int] | None) -> np.ndarray:
    """uint8 (H, W, 3) RGB of an image, resized bilinearly to size = (W, H) if one is given and differs."""
    image = image.convert("RGB")
    if size is not None and image.size != size:
        image = image.resize(size, Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def resize_nearest(label_map: np.ndarray, height: int, width: int) -> np.ndarray:
    """A label map resized to (height, width) by nearest neighbour at pixel centres."""
    h, w = label_map.shape
    if (h, w) == (height, width):
        return label_map
    rows = np.minimum(((np.arange(height) + 0.5) * h / height).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * w / width).astype(np.int64), w - 1)
    return label_map[rows[:, None], cols[None, :]]


def encode_png(label_map: np.ndarray) -> bytes:
    """An 8-bit greyscale PNG of a uint8 (H, W) label map, written as segmad.codec writes label maps:
    rows unfiltered, deflate level 2 (Pillow's filtered level 6 took 7% of a worker's time at 64 px)."""
    labels = np.ascontiguousarray(label_map, dtype=np.uint8)
    height, width = labels.shape
    rows = np.empty((height, width + 1), np.uint8)
    rows[:, 0] = 0  # filter type None
    rows[:, 1:] = labels
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"".join((b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header),
                     _chunk(b"IDAT", zlib.compress(rows.data, LABEL_MAP_LEVEL)), _chunk(b"IEND", b"")))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(data, zlib.crc32(kind)).to_bytes(4, "big")
