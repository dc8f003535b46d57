"""A model card: parsed, checked and written back; pure Python (no torch, no numpy).

    name: segformer                 # default: the name `segmad models add NAME` gives
    role: target                    # target | competitor
    format: python                  # torchscript (a .pt) | onnx (a .onnx) | python (module:function)
    artefact: weights.pt            # the .pt/.onnx file; for python an optional state-dict file
    entry: mypkg.models:build       # python only: called with `kwargs`, returns a torch.nn.Module
    kwargs: {num_labels: 9}         #   (or any callable from an image batch to per-class scores)
    artefact_arg: model_path        # python only: pass the artefact's file path as this keyword (a
                                    #   callable that loads its own .tflite/.onnx) instead of a state dict
    preprocess:
      resize: {policy: keep}        # keep | fixed (size: [H, W]) | shorter (size: S, the shorter side)
      pad_to_multiple: 32           # zero-pad (after normalising) bottom and right to a multiple
      mean: [0.485, 0.456, 0.406]   # on the 0..1 scale (images are divided by `scale` first)
      std: [0.229, 0.224, 0.225]
      scale: 255
      channels: rgb                 # rgb | bgr
      layout: nchw                  # nchw | nhwc: what the model takes
    output:
      key: logits                   # a dict key, attribute or tuple index; default the output itself
      kind: logits                  # logits | probabilities; one channel with two classes: the second
                                    #   class's logit (sigmoid) or probability
      layout: nchw                  # nchw | nhwc; any stride: maps are resized back to the input
    classes: [background, person]   # the model's own classes, in output-channel order
    label_map: {person: person}     # model class -> run class, or null to ignore; default: same name
    device: auto                    # auto (cuda when present) | cpu | cuda
    batch_size: 16
    train:                          # how a new version comes about (see the trainer)
      trainable: true               # default: true for torchscript and python, false for onnx
      command: "python train.py --data {data} --init {init} --out {out}"   # a hook, for any format

Relative paths are relative to the card's folder. Every mistake is a CardError naming the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from segmad.errors import InputError

FORMATS = ("torchscript", "onnx", "python")
ROLES = ("target", "competitor")
POLICIES = ("keep", "fixed", "shorter")
DEVICES = ("auto", "cpu", "cuda")
_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
# ImageNet's statistics on the 0..1 scale, what torchvision, timm and Hugging Face models expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class CardError(InputError):
    """A card that cannot describe a runnable model (the message names the field)."""


@dataclass(frozen=True)
class Resize:
    """How an image is resized before the model: keep its size, a fixed (H, W), or its shorter side to S."""

    policy: str = "keep"
    size: tuple[int, ...] = ()

    def target(self, height: int, width: int) -> tuple[int, int]:
        """The (h, w) an image of (height, width) is resized to."""
        if self.policy == "fixed":
            return int(self.size[0]), int(self.size[1])
        if self.policy == "shorter":
            scale = self.size[0] / min(height, width)
            return max(1, round(height * scale)), max(1, round(width * scale))
        return height, width


@dataclass(frozen=True)
class Preprocess:
    resize: Resize = field(default_factory=Resize)
    pad_to_multiple: int = 1
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    scale: float = 255.0
    channels: str = "rgb"
    layout: str = "nchw"


@dataclass(frozen=True)
class Output:
    key: str | int | None = None
    kind: str = "logits"
    layout: str = "nchw"


@dataclass(frozen=True)
class Train:
    trainable: bool | None = None  # None: the format's default
    command: str | None = None


@dataclass(frozen=True)
class ModelCard:
    """What segmad needs to run, map and fine-tune a model it did not build."""

    format: str
    classes: tuple[str, ...]
    name: str | None = None
    role: str | None = None
    artefact: str | None = None
    entry: str | None = None
    kwargs: dict = field(default_factory=dict)
    artefact_arg: str | None = None
    preprocess: Preprocess = field(default_factory=Preprocess)
    output: Output = field(default_factory=Output)
    label_map: dict = field(default_factory=dict)
    device: str = "auto"
    batch_size: int = 16
    train: Train = field(default_factory=Train)
    base_dir: str = "."  # where relative paths resolve (not written back)

    @property
    def trainable(self) -> bool:
        """Whether segmad's trainer can fine-tune it (a torch module); a hook works for any format."""
        if self.train.trainable is not None:
            return self.train.trainable and self.format != "onnx"
        return self.format in ("torchscript", "python")

    def artefact_path(self) -> Path | None:
        """The artefact's path, resolved against the card's folder."""
        if not self.artefact:
            return None
        path = Path(self.artefact)
        return path if path.is_absolute() else Path(self.base_dir) / path

    def with_artefact(self, artefact: str | None, base_dir: str = ".") -> "ModelCard":
        """The same card naming another artefact (a new version's weights)."""
        return replace(self, artefact=artefact, base_dir=base_dir)

    def to_dict(self) -> dict:
        """Plain JSON-able fields, as parse_card reads them back (base_dir left out)."""
        data = asdict(self)
        data.pop("base_dir")
        data["classes"] = list(self.classes)
        data["preprocess"]["resize"]["size"] = list(self.preprocess.resize.size)
        for key in ("mean", "std"):
            data["preprocess"][key] = list(data["preprocess"][key])
        return data


def load_card(path: Path) -> ModelCard:
    """The card in a .yaml/.yml/.json file; CardError for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise CardError(f"no such card: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CardError(f"card {path}: not a text file (a card is YAML or JSON; its model file is its artefact)") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # only cards written in YAML need PyYAML

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as error:  # json.JSONDecodeError, yaml.YAMLError, PyYAML missing
        raise CardError(f"card {path}: {str(error).splitlines()[0]}") from error
    return parse_card(data, base_dir=str(path.parent))


def parse_card(data: Any, base_dir: str = ".", stored: bool = False) -> ModelCard:
    """A checked ModelCard from the card's mapping; `stored`: a catalogued card, its artefact in the blob store."""
    if not isinstance(data, dict):
        raise CardError("a card is a mapping of fields (format, classes, ...)")
    known = {"name", "role", "format", "artefact", "entry", "kwargs", "artefact_arg", "preprocess", "output",
             "classes", "label_map", "device", "batch_size", "train"}
    if unknown := sorted(set(data) - known):
        raise CardError(f"card: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    fmt = _choice(data.get("format"), FORMATS, "format")
    classes = data.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c.strip() for c in classes):
        raise CardError("card: classes must be a non-empty list of the model's class names, in output order")
    if len(set(classes)) != len(classes):
        raise CardError("card: classes names a class twice")
    if len(classes) > 255:
        raise CardError("card: at most 255 classes (label maps are 8-bit, 255 means ignore)")
    entry = data.get("entry")
    if fmt == "python":
        if not isinstance(entry, str) or not _ENTRY.match(entry):
            raise CardError("card: a python model needs entry: 'package.module:function'")
    elif entry is not None:
        raise CardError(f"card: entry is for python models; a {fmt} model is its artefact")
    artefact = data.get("artefact")
    if fmt in ("torchscript", "onnx") and not isinstance(artefact, str) and not stored:
        raise CardError(f"card: a {fmt} model needs artefact: the path of its file")
    if artefact is not None and not isinstance(artefact, str):
        raise CardError("card: artefact is a file path")
    artefact_arg = data.get("artefact_arg")
    if artefact_arg is not None and (fmt != "python" or not isinstance(artefact_arg, str)
                                     or not artefact_arg.isidentifier()):
        raise CardError("card: artefact_arg is a python model's keyword argument name")
    if artefact_arg is not None and artefact is None and not stored:
        raise CardError("card: artefact_arg needs an artefact (the file the entry loads)")
    kwargs = data.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise CardError("card: kwargs is a mapping of keyword arguments")
    label_map = data.get("label_map") or {}
    if not isinstance(label_map, dict) or not all(isinstance(v, str) or v is None for v in label_map.values()):
        raise CardError("card: label_map maps model class names to run class names (or null to ignore)")
    if unknown := sorted(set(label_map) - set(classes)):
        raise CardError(f"card: label_map names classes the model does not have: {', '.join(unknown)}")
    batch_size = data.get("batch_size", 16)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise CardError("card: batch_size is a whole number >= 1")
    role = data.get("role")
    if role is not None:
        _choice(role, ROLES, "role")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise CardError("card: name is a string")
    return ModelCard(format=fmt, classes=tuple(classes), name=name, role=role, artefact=artefact, entry=entry,
                     kwargs=kwargs, artefact_arg=artefact_arg, preprocess=_preprocess(data.get("preprocess") or {}),
                     output=_output(data.get("output") or {}), label_map=dict(label_map),
                     device=_choice(data.get("device", "auto"), DEVICES, "device"), batch_size=batch_size,
                     train=_train(data.get("train") or {}), base_dir=base_dir)


def _choice(value: Any, allowed: tuple[str, ...], name: str) -> str:
    if value is None:
        raise CardError(f"card: {name} is missing; it is one of {', '.join(allowed)}")
    if value not in allowed:
        raise CardError(f"card: {name} is one of {', '.join(allowed)} (got {value!r})")
    return value


def _fields(data: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(data, dict):
        raise CardError(f"card: {where} is a mapping")
    if unknown := sorted(set(data) - allowed):
        raise CardError(f"card: unknown field(s) in {where}: {', '.join(unknown)}")
    return data


def _numbers(value: Any, count: int, where: str) -> tuple[float, ...]:
    if (not isinstance(value, (list, tuple)) or len(value) != count
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise CardError(f"card: {where} is a list of {count} numbers")
    return tuple(float(v) for v in value)


def _preprocess(data: Any) -> Preprocess:
    data = _fields(data, {"resize", "pad_to_multiple", "mean", "std", "scale", "channels", "layout"}, "preprocess")
    resize = _fields(data.get("resize") or {}, {"policy", "size"}, "preprocess.resize")
    policy = _choice(resize.get("policy", "keep"), POLICIES, "preprocess.resize.policy")
    size: tuple[int, ...] = ()
    if policy == "fixed":
        raw = resize.get("size")
        raw = [raw, raw] if isinstance(raw, int) else raw
        size = tuple(int(v) for v in _numbers(raw, 2, "preprocess.resize.size ([H, W])"))
    elif policy == "shorter":
        raw = resize.get("size")
        raw = raw if isinstance(raw, list) else [raw]  # S, or [S] as to_dict writes it
        size = (int(_numbers(raw, 1, "preprocess.resize.size (the shorter side)")[0]),)
    if any(s < 1 for s in size):
        raise CardError("card: preprocess.resize.size must be positive")
    multiple = data.get("pad_to_multiple", 1)
    if not isinstance(multiple, int) or isinstance(multiple, bool) or multiple < 1:
        raise CardError("card: preprocess.pad_to_multiple is a whole number >= 1")
    std = _numbers(data.get("std", IMAGENET_STD), 3, "preprocess.std")
    if any(s <= 0 for s in std):
        raise CardError("card: preprocess.std must be positive")
    scale = _numbers([data.get("scale", 255.0)], 1, "preprocess.scale")[0]
    if scale <= 0:
        raise CardError("card: preprocess.scale must be positive")
    return Preprocess(Resize(policy, size), multiple, _numbers(data.get("mean", IMAGENET_MEAN), 3, "preprocess.mean"),
                      std, scale, _choice(data.get("channels", "rgb"), ("rgb", "bgr"), "preprocess.channels"),
                      _choice(data.get("layout", "nchw"), ("nchw", "nhwc"), "preprocess.layout"))


def _output(data: Any) -> Output:
    data = _fields(data, {"key", "kind", "layout"}, "output")
    key = data.get("key")
    if key is not None and (not isinstance(key, (str, int)) or isinstance(key, bool)):
        raise CardError("card: output.key is a name (dict key or attribute) or an index")
    return Output(key, _choice(data.get("kind", "logits"), ("logits", "probabilities"), "output.kind"),
                  _choice(data.get("layout", "nchw"), ("nchw", "nhwc"), "output.layout"))


def _train(data: Any) -> Train:
    data = _fields(data, {"trainable", "command"}, "train")
    trainable = data.get("trainable")
    if trainable is not None and not isinstance(trainable, bool):
        raise CardError("card: train.trainable is true or false")
    command = data.get("command")
    if command is not None and (not isinstance(command, str) or "{out}" not in command or "{data}" not in command):
        raise CardError("card: train.command is a command line holding {data} and {out} (and optionally {init})")
    return Train(trainable, command)
