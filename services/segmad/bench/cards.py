"""`segmad bench cards`: what the generic card path costs against the zoo's fixed path, same models, one run.

The fixed path is the zoo's own inference (`models.predict.predict_with_entropy`: one normalisation
of the stacked batch, one forward, argmax and entropy). The generic paths run the same weights
through `segmad.cards.runner.CardModel`: as a Python card (the zoo module), as a TorchScript card and
as an ONNX card (ONNX Runtime), each image prepared, batched by shape, resized back and mapped into
the run's label space. Images/s of each, interleaved in rounds so that load on a shared machine
falls on all alike; ratios to the fixed path are what to read. With --sizes, the pool mixes sizes
(the fixed path cannot run it; the card paths are timed on it too).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=512, help="pool images (default 512)")
    parser.add_argument("--size", type=int, default=64, help="image side (default 64, the world's)")
    parser.add_argument("--arch", default="deeplabv3plus", help="zoo architecture (default the target's)")
    parser.add_argument("--batch", type=int, default=64, help="images per call (default 64, the workers')")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the best of each is kept")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from segmad.cards import LabelSpace, parse_card
    from segmad.cards.runner import CardModel, module_model
    from segmad.models import build
    from segmad.models.inputs import MEAN, STD
    from segmad.models.predict import predict_with_entropy
    from segmad.world import CLASS_NAMES

    torch.manual_seed(0)
    module = build(args.arch, 8).eval()
    space = LabelSpace(tuple(CLASS_NAMES))
    images = np.random.default_rng(0).integers(0, 256, (args.images, args.size, args.size, 3), dtype=np.uint8)
    zoo_input = {"pad_to_multiple": 16, "scale": 1, "mean": [float(v) for v in MEAN], "std": [float(v) for v in STD]}
    base = {"classes": list(space.names), "preprocess": zoo_input, "batch_size": args.batch, "device": "cpu"}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torchscript, onnx_file = Path(tmp) / "m.pt", Path(tmp) / "m.onnx"
        torch.jit.save(torch.jit.trace(module, torch.zeros(1, 3, args.size, args.size)), str(torchscript))
        paths = {"fixed": None, "python card": None, "torchscript card": None, "onnx card": None}
        try:
            torch.onnx.export(module, (torch.zeros(1, 3, args.size, args.size),), str(onnx_file), dynamo=False,
                              input_names=["x"], output_names=["logits"],
                              dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "logits": {0: "n", 2: "h", 3: "w"}})
        except Exception as error:  # onnx not installed: the ONNX card is left out, and said so
            print(f"segmad bench cards: no ONNX export ({type(error).__name__}); the ONNX card is left out",
                  file=sys.stderr)
            paths.pop("onnx card")
        runners = {
            "fixed": lambda batch: predict_with_entropy(module, batch, args.batch),
            "python card": module_model(module, space, args.batch).predict,
            "torchscript card": CardModel(parse_card(base | {"format": "torchscript", "artefact": str(torchscript)}),
                                          space, torchscript).predict,
        }
        if "onnx card" in paths:
            runners["onnx card"] = CardModel(parse_card(base | {"format": "onnx", "artefact": str(onnx_file),
                                                                "output": {"key": "logits"}}), space, onnx_file).predict
        best = {name: float("inf") for name in runners}
        for _ in range(args.repeats):
            for name, runner in runners.items():
                started = time.perf_counter()
                for start in range(0, len(images), args.batch):
                    chunk = images[start:start + args.batch]
                    runner(chunk if name == "fixed" else list(chunk))
                best[name] = min(best[name], time.perf_counter() - started)
    figures = {"images": args.images, "size": args.size, "arch": args.arch, "batch": args.batch,
               "threads": torch.get_num_threads(),
               "images_per_s": {name: round(args.images / t, 1) for name, t in best.items()},
               "ratio_to_fixed": {name: round(best["fixed"] / t, 3) for name, t in best.items()}}
    print(f"{'path':<18} {'images/s':>9} {'ratio':>6}")
    for name in runners:
        print(f"{name:<18} {figures['images_per_s'][name]:>9} {figures['ratio_to_fixed'][name]:>6}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))
    return 0
