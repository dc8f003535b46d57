"""A TFLite person segmenter as the callable a python card names (run by ai-edge-litert).

    format: python
    entry: segmad.examples.tflite:tflite_model
    kwargs: {path: /abs/selfie_segmentation.tflite, kind: probabilities}
    preprocess: {resize: {policy: fixed, size: [256, 256]}, mean: [0, 0, 0], std: [1, 1, 1], layout: nhwc}
    output: {kind: probabilities}
    classes: [background, person]

MediaPipe's models take one (1, h, w, 3) float image at a fixed size, so the card resizes and the
callable loops over the batch; their person map has one channel, which becomes (background, person).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from segmad.examples.binary import two_classes


class TFLiteSegmenter:
    """(N, H, W, 3) or (N, 3, H, W) float batch -> (N, 2, h, w) float32 [background, person] probabilities."""

    def __init__(self, interpreter, output: int | str | None, kind: str):
        self.interpreter, self.kind = interpreter, kind
        self.input = interpreter.get_input_details()[0]
        self.output = _output_index(interpreter.get_output_details(), output)
        self._lock = threading.Lock()  # an interpreter holds its tensors: one image at a time

    def __call__(self, batch) -> np.ndarray:
        x = np.asarray(batch.cpu() if hasattr(batch, "cpu") else batch, dtype=np.float32)
        if x.ndim != 4 or 3 not in (x.shape[1], x.shape[-1]):
            raise ValueError(f"expected an (N, H, W, 3) or (N, 3, H, W) batch, got {x.shape}")
        if x.shape[-1] != 3:
            x = x.transpose(0, 2, 3, 1)                                      # (N, H, W, 3)
        want = tuple(int(v) for v in self.input["shape"][1:3])
        if x.shape[1:3] != want:
            raise ValueError(f"this TFLite model takes {want[0]}x{want[1]} images, got {x.shape[1]}x{x.shape[2]}: "
                             f"give its card preprocess.resize {{policy: fixed, size: [{want[0]}, {want[1]}]}}")
        maps = []
        with self._lock:
            for image in x:
                self.interpreter.set_tensor(self.input["index"], image[None])
                self.interpreter.invoke()
                out = self.interpreter.get_tensor(self.output)                # (1, h, w, 1)
                maps.append(out.reshape(out.shape[1], out.shape[2]))
        return two_classes(np.stack(maps), self.kind)                         # (N, 2, h, w)


def _output_index(details: list[dict], output: int | str | None) -> int:
    """The tensor index of the chosen output: by position, by name, or the only (1, h, w, 1) map."""
    if isinstance(output, int):
        if not 0 <= output < len(details):
            raise ValueError(f"output {output}: the model has {len(details)} outputs")
        return details[output]["index"]
    if isinstance(output, str):
        for d in details:
            if d["name"] == output:
                return d["index"]
        raise ValueError(f"no output named {output!r} ({', '.join(d['name'] for d in details)})")
    maps = [d for d in details if len(d["shape"]) == 4 and d["shape"][-1] == 1]
    if len(maps) != 1:
        raise ValueError(f"{len(maps)} outputs look like a (1, h, w, 1) map; name one with output=")
    return maps[0]["index"]


def tflite_model(path: str, output: int | str | None = None, kind: str = "probabilities") -> TFLiteSegmenter:
    """A person segmenter from a .tflite file; `output`: position or name (default the only map), `kind` of its values."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such TFLite model: {path}")
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:
        raise ImportError("TFLite models run with ai-edge-litert: pip install 'segmad[real-example]'") from error

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    return TFLiteSegmenter(interpreter, output, kind)
