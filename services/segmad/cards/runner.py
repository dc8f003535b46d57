"""Running a card: images of any size in, label maps in the run's label space at each image's size out.

The path of one image: resize by the card's policy → scale, normalise, channel order → zero-pad
bottom/right to the card's multiple → the model (images of one padded shape share a batch) → the
chosen output (a dict key, attribute or index) → logits or probabilities at any stride, resized
bilinearly to the padded input → padding cropped → argmax and the mean per-pixel entropy at the
model's resolution → the map resized back to the image's own size with nearest neighbour → the
model's classes mapped onto the run's (255 where unmapped).
"""

from __future__ import annotations

import importlib
import io
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from segmad.cards.card import CardError, ModelCard
from segmad.cards.labels import LabelSpace, apply, resize_nearest
from segmad.scores import labels_and_entropy

__all__ = ["CardModel", "build_callable", "load_card_model", "module_model", "resize_nearest"]
_IDENTITY = np.arange(256, dtype=np.uint8)


def device_of(card: ModelCard) -> torch.device:
    """cuda when the card allows it and one is present, else cpu."""
    if card.device == "cuda" and not torch.cuda.is_available():
        raise CardError("card: device cuda, but torch sees no CUDA device here")
    if card.device in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def build_callable(card: ModelCard, artefact: bytes | Path | None, device: torch.device) -> Callable:
    """The model a card describes: a torch module (torchscript, python) or an onnxruntime session."""
    data = (artefact.read_bytes() if isinstance(artefact, Path) else artefact) or None  # b"": no artefact
    if card.format == "torchscript":
        if data is None:
            raise CardError("card: a torchscript model needs its artefact")
        try:
            # torch marks TorchScript deprecated; it is still what many teams export, and what TorchServe loads.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return torch.jit.load(io.BytesIO(data), map_location=device).eval()
        except Exception as error:
            raise CardError(f"card: the artefact is not a TorchScript module: {_first_line(error)}") from error
    if card.format == "onnx":
        if data is None:
            raise CardError("card: an onnx model needs its artefact")
        try:
            import onnxruntime
        except ImportError as error:
            raise CardError("card: onnx models need onnxruntime (pip install 'segmad[models]')") from error
        providers = (["CUDAExecutionProvider", "CPUExecutionProvider"] if device.type == "cuda"
                     else ["CPUExecutionProvider"])
        try:
            return onnxruntime.InferenceSession(data, providers=providers)
        except Exception as error:
            raise CardError(f"card: the artefact is not an ONNX model onnxruntime can run: {_first_line(error)}") from error
    module_name, _, function = card.entry.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in function.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise CardError(f"card: cannot import entry {card.entry}: {_first_line(error)}") from error
    kwargs = dict(card.kwargs)
    if card.artefact_arg:  # the entry loads its own file: hand it a path
        if data is None:
            raise CardError(f"card: {card.entry} takes its file as {card.artefact_arg}, but there is no artefact")
        kwargs[card.artefact_arg] = str(artefact if isinstance(artefact, Path) else _file_of(data))
    try:
        model = target(**kwargs)
    except Exception as error:
        raise CardError(f"card: {card.entry}(**kwargs) failed: {_first_line(error)}") from error
    if isinstance(model, nn.Module):
        if data is not None and not card.artefact_arg:
            try:
                state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
                model.load_state_dict(state)
            except Exception as error:
                raise CardError(f"card: the weights do not load into {card.entry}: {_first_line(error)}") from error
        model = model.to(device).eval()
    elif not callable(model):
        raise CardError(f"card: {card.entry} returned {type(model).__name__}, not a module or callable")
    return model


def _file_of(data: bytes) -> Path:
    """A file holding `data` (content-addressed under the user's cache, so a worker writes it once)."""
    import hashlib
    import os

    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "segmad" / "artefacts"
    path = folder / hashlib.sha256(data).hexdigest()
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, path)
    return path


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]


class CardModel:
    """A card's model ready to predict; `module` is the torch module when there is one (to fine-tune)."""

    def __init__(self, card: ModelCard, space: LabelSpace, artefact: bytes | Path | None = None,
                 model: Callable | None = None):
        self.card, self.space = card, space
        self.device = device_of(card)
        self.model = model if model is not None else build_callable(card, artefact, self.device)
        self.batch_size = card.batch_size
        # A card naming no classes is a bare module already in the run's space (the zoo's): identity.
        self.table = space.lookup(card.classes, card.label_map) if card.classes else _IDENTITY
        if isinstance(self.model, nn.Module) and self.device.type == "cuda":
            self.model.to(self.device)
        elif isinstance(self.model, nn.Module):
            # oneDNN's fast layout: 1.3-2.5x faster for the zoo's convolutions, the same label maps.
            self.model.to(memory_format=torch.channels_last)
        pre = card.preprocess
        order = [2, 1, 0] if pre.channels == "bgr" else [0, 1, 2]
        self._mean_raw = np.array([pre.mean[i] for i in order], np.float32)
        self._std_raw = np.array([pre.std[i] for i in order], np.float32)

    @property
    def module(self) -> nn.Module | None:
        return self.model if isinstance(self.model, nn.Module) else None

    # ---- input ----------------------------------------------------------------------------------
    def prepare(self, image: np.ndarray) -> np.ndarray:
        """One uint8 (H, W, 3) image as the model's float32 (h', w', 3) input, resized, normalised, padded."""
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected a uint8 image (H, W, 3), got {image.dtype} {image.shape}")
        pre = self.card.preprocess
        h, w = pre.resize.target(*image.shape[:2])
        if (h, w) != image.shape[:2]:
            image = np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR))
        pixels = image[..., ::-1] if pre.channels == "bgr" else image
        x = pixels.astype(np.float32)
        if pre.scale != 1.0:
            x /= np.float32(pre.scale)
        x -= self._mean_raw
        x /= self._std_raw
        m = pre.pad_to_multiple
        ph, pw = -h % m, -w % m
        if ph or pw:
            x = np.pad(x, ((0, ph), (0, pw), (0, 0)))
        return x

    def _run(self, batch: np.ndarray) -> torch.Tensor:
        """(B, K, oh, ow) float32 scores of a (B, h, w, 3) float32 batch, as the card says they come."""
        card = self.card
        if card.preprocess.layout == "nchw":
            batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        if card.format == "onnx":
            session = self.model
            name = session.get_inputs()[0].name
            outputs = session.run(None, {name: batch})
            if isinstance(card.output.key, str):
                names = [o.name for o in session.get_outputs()]
                if card.output.key not in names:
                    raise CardError(f"card: output.key {card.output.key!r} is not an output ({', '.join(names)})")
                out = outputs[names.index(card.output.key)]
            else:
                out = outputs[card.output.key or 0]
            scores = torch.from_numpy(np.asarray(out, dtype=np.float32))
        else:
            x = torch.from_numpy(batch).to(self.device)
            if x.ndim == 4 and card.preprocess.layout == "nchw" and self.device.type == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                out = _select(self.model(x), card.output.key)
            scores = torch.as_tensor(out).float() if not isinstance(out, torch.Tensor) else out.float()
        if scores.ndim != 4:
            raise CardError(f"card: the model answered scores of rank {scores.ndim} {tuple(scores.shape)}; "
                            "expected N×K×h×w (or N×h×w×K with output.layout nhwc)")
        if card.output.layout == "nhwc":
            scores = scores.permute(0, 3, 1, 2)
        if scores.shape[1] == 1 and len(card.classes) == 2:
            # One channel for two classes: the second class's logit (softmax([0, s]) = [1 - σ(s), σ(s)])
            # or its probability.
            one = scores
            scores = torch.cat([1 - one, one], 1) if card.output.kind == "probabilities" \
                else torch.cat([torch.zeros_like(one), one], 1)
        if card.classes and scores.shape[1] != len(card.classes):
            raise CardError(f"card: the model answered {scores.shape[1]} classes, the card names "
                            f"{len(card.classes)}")
        return scores

    def predict(self, images: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        """Label maps in the run's space, each at its image's size, and each image's mean entropy (nats)."""
        prepared = [self.prepare(image) for image in images]
        maps: list[np.ndarray] = [np.zeros((0, 0), np.uint8)] * len(images)
        entropy = np.zeros(len(images))
        by_shape: dict[tuple, list[int]] = {}
        for i, x in enumerate(prepared):
            by_shape.setdefault(x.shape, []).append(i)
        for shape, members in by_shape.items():
            for start in range(0, len(members), self.batch_size):
                chunk = members[start:start + self.batch_size]
                scores = self._run(np.stack([prepared[i] for i in chunk]))
                if tuple(scores.shape[2:]) != shape[:2]:  # any stride: back to the padded input's size
                    scores = F.interpolate(scores, size=shape[:2], mode="bilinear", align_corners=False)
                labels, pixel_entropy = labels_and_entropy(scores, self.card.output.kind == "probabilities")
                labels = labels.cpu().numpy()                                          # (B, H, W)
                for j, i in enumerate(chunk):
                    h, w = self.card.preprocess.resize.target(*images[i].shape[:2])
                    entropy[i] = float(pixel_entropy[j, :h, :w].mean())
                    maps[i] = apply(self.table, resize_nearest(labels[j, :h, :w], *images[i].shape[:2]))
        return maps, entropy


def _select(output: Any, key: str | int | None) -> Any:
    """The part of a model's output the card names: the output itself, a dict key, attribute or index."""
    if key is None:
        if isinstance(output, (tuple, list)):
            return output[0]
        if isinstance(output, dict) and len(output) == 1:
            return next(iter(output.values()))
        return output
    if isinstance(key, int):
        return output[key]
    if isinstance(output, dict) or hasattr(output, "keys"):
        if key in output.keys():
            return output[key]
    if hasattr(output, key):
        return getattr(output, key)
    raise CardError(f"card: the model's output has no {key!r} (output.key)")


def load_card_model(card: ModelCard, space: LabelSpace) -> CardModel:
    """A card's model from its artefact on disk (what `segmad models add --card` checks)."""
    path = card.artefact_path()
    if path is not None and not path.is_file():
        raise CardError(f"card: no such artefact: {path}")
    return CardModel(card, space, path)


def module_model(module: nn.Module, space: LabelSpace | None = None, batch_size: int = 256) -> CardModel:
    """A bare segmad module (the zoo's: normalised (N, 3, H, W) -> logits (N, C+1, H, W) in the run's
    space, any H, W that are multiples of 16) as a CardModel, with exactly the zoo's input arithmetic."""
    from segmad.cards.card import Preprocess, Resize
    from segmad.cards.labels import LabelSpace as Space
    from segmad.models.inputs import MEAN, STD

    pre = Preprocess(Resize("keep"), 16, tuple(float(v) for v in MEAN), tuple(float(v) for v in STD), 1.0)
    card = ModelCard(format="python", classes=(), entry="segmad.models:build", preprocess=pre, device="auto",
                     batch_size=batch_size)
    return CardModel(card, space or Space(("background", "foreground")), model=module.eval())
