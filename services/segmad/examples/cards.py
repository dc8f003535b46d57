"""The model cards of the worked example: MediaPipe's TFLite segmenters and ISNet, as python cards.

Each names a callable of this package and the model file's absolute path in `kwargs` (a python
card's artefact is loaded only into a torch module, so a TFLite or ONNX file travels as a path;
TorchServe on the same machine reads it there). Inputs as the models were trained: MediaPipe's on
the 0..1 scale, NHWC, at their fixed size; ISNet's (x - 128) / 256 on the 0..255 scale at 1024².
"""

from __future__ import annotations

import json
from pathlib import Path

TARGET = "selfie"
PERSON = ["background", "person"]
_MEDIAPIPE = {"mean": [0, 0, 0], "std": [1, 1, 1], "scale": 255, "layout": "nhwc"}
SIZES = {"selfie": [256, 256], "selfie_landscape": [144, 256], "pose_lite": [256, 256], "pose_full": [256, 256],
         "pose_heavy": [256, 256]}


def card_for(name: str, path: Path) -> dict:
    """The card of model `name` (a key of SIZES, or "isnet") whose file is `path`."""
    role = "target" if name == TARGET else "competitor"
    if name == "isnet":
        return {"name": name, "role": role, "format": "python", "entry": "segmad.examples.onnx_person:onnx_model",
                "kwargs": {"path": str(Path(path).resolve()), "output": "output"},
                "preprocess": {"resize": {"policy": "fixed", "size": [1024, 1024]}, "scale": 1,
                               "mean": [128, 128, 128], "std": [256, 256, 256], "layout": "nchw"},
                "output": {"kind": "probabilities"}, "classes": PERSON, "device": "cpu", "batch_size": 1}
    # The pose landmarkers' person map is a logit map; the selfie models' is already a probability.
    kind = "logits" if name.startswith("pose") else "probabilities"
    return {"name": name, "role": role, "format": "python", "entry": "segmad.examples.tflite:tflite_model",
            "kwargs": {"path": str(Path(path).resolve()), "kind": kind},
            "preprocess": {"resize": {"policy": "fixed", "size": SIZES[name]}, **_MEDIAPIPE},
            "output": {"kind": "probabilities"}, "classes": PERSON, "device": "cpu", "batch_size": 8}


def write_cards(models: dict[str, Path], folder: Path) -> dict[str, Path]:
    """{name: card file} for the fetched models, written as JSON into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    cards = {}
    for name, path in models.items():
        cards[name] = folder / f"{name}.json"
        cards[name].write_text(json.dumps(card_for(name, path), indent=2) + "\n")
    return cards
