"""An ONNX model with a one-channel person map (ISNet) as the callable a python card names.

A card of format onnx argmaxes the model's channels, so a single sigmoid map needs this wrapper:
it runs the session (one image at a time when the model's batch is fixed at 1) and answers
(N, 2, h, w) [background, person] probabilities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segmad.examples.binary import two_classes


class OnnxPersonSegmenter:
    """(N, 3, H, W) float batch -> (N, 2, h, w) float32 [background, person] probabilities."""

    def __init__(self, session, output: int | str, kind: str):
        self.session, self.kind = session, kind
        self.input = session.get_inputs()[0]
        names = [o.name for o in session.get_outputs()]
        if isinstance(output, str) and output not in names:
            raise ValueError(f"no output named {output!r} ({', '.join(names)})")
        self.output = output if isinstance(output, str) else names[output]
        self.one_at_a_time = self.input.shape[0] == 1  # a fixed batch of 1 (ISNet's export)

    def __call__(self, batch) -> np.ndarray:
        x = np.asarray(batch.cpu() if hasattr(batch, "cpu") else batch, dtype=np.float32)
        parts = [x[i:i + 1] for i in range(len(x))] if self.one_at_a_time else [x]
        maps = [self.session.run([self.output], {self.input.name: part})[0] for part in parts]
        person = np.concatenate(maps)                                         # (N, 1, h, w)
        if person.ndim != 4 or person.shape[1] != 1:
            raise ValueError(f"expected a one-channel (N, 1, h, w) map, got {person.shape}")
        return two_classes(person[:, 0], self.kind)                           # (N, 2, h, w)


def onnx_model(path: str, output: int | str = 0, kind: str = "probabilities",
               threads: int = 0) -> OnnxPersonSegmenter:
    """A person segmenter from an .onnx file with a one-channel output (`threads` 0: onnxruntime's default)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such ONNX model: {path}")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return OnnxPersonSegmenter(session, output, kind)
