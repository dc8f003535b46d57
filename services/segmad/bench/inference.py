"""`segmad bench inference`: images/s of one segmentation model in process and through TorchServe, at each
batch size, on the device torch sees (the GPU when there is one).

The model (--model) is a zoo architecture (zoo:ARCH; default zoo:deeplabv3plus, the target's) or any
builder MODULE:FUNCTION called with --kwargs, e.g. torchvision.models.segmentation:deeplabv3_resnet50
with {"weights": null, "weights_backbone": null, "num_classes": 21}; random weights cost what trained
ones do. It is traced once to TorchScript, on the device it runs on, and described by one card
(segmad.cards), which every path runs. Or --card FILE: a team's own card (TorchScript, ONNX or Python)
timed as it is, on the bench's device and batch sizes (through TorchServe a Python card's entry must be
importable in TorchServe's Python, as when it is published). The paths:

- in process: segmad.cards.runner.CardModel, what the embedded segmenter runs, B images per forward;
- handler: TorchServe's handler (deploy/torchserve/segmad_handler.py) in this process, on the card's
  model folder as its archive holds it, called with packs of B PNG images and its maps decoded: a
  TorchServe worker's work without the Java frontend and HTTP (so it runs where torch does, on a GPU
  machine with no Java too);
- torchserve: the card's archive in a private TorchServe (Java 17 and segmad's `stack` extra), B images
  per request, requests sent concurrently as segmad's client sends them, server-side batching off.

Images are world pool images drawn at --size (up to 16 distinct ones, cycled), the same for every path;
the client's PNG encoding is timed in the torchserve path only. Paths and batch sizes are interleaved
in --repeats rounds and the best of each is kept, so that a shared machine's load falls on all alike.
Each path's maps are compared with in process's: the share of equal pixels.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import io
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from segmad.errors import InputError

MODEL_NAME = "bench-inference"
DEFAULT_MODEL = "zoo:deeplabv3plus"
DISTINCT_IMAGES = 16  # world images are drawn at full size (0.1 s each at 512 px): a few, cycled


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="zoo:ARCH or a builder MODULE:FUNCTION (default zoo:deeplabv3plus)")
    parser.add_argument("--kwargs", default="{}", help="the builder's keyword arguments as JSON (default {})")
    parser.add_argument("--card", type=Path, help="a model card (segmad.cards) to time as it is, instead of --model")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels (default 512)")
    parser.add_argument("--batches", default="1,16", help="batch sizes, comma-separated (default 1,16)")
    parser.add_argument("--images", type=int, default=64, help="images per timed run (default 64)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds; the best of each is kept")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="CPU threads of the model, here and in TorchServe's worker (default: all cores)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: the GPU when torch sees one (default)")
    parser.add_argument("--no-torchserve", action="store_true", help="leave the TorchServe path out")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")


def batch_sizes(text: str) -> list[int]:
    """The distinct batch sizes of "1,16", in order; InputError unless each is a whole number >= 1."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--batches takes whole numbers separated by commas, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise InputError(f"--batches takes whole numbers >= 1, got {text!r}")
    return list(dict.fromkeys(sizes))


def model_of(spec: str, kwargs: dict, size: int, device):
    """(eval-mode module on device, its output's key or None, its class names, preprocess of its card)."""
    import torch

    from segmad.cards.card import IMAGENET_MEAN, IMAGENET_STD

    if spec.startswith("zoo:"):
        from segmad.models import ARCHITECTURES, build
        from segmad.models.inputs import MEAN, STD
        from segmad.world import CLASS_NAMES

        arch = spec[4:]
        if arch not in ARCHITECTURES:
            raise InputError(f"--model: no zoo architecture {arch!r} (one of {', '.join(ARCHITECTURES)})")
        torch.manual_seed(0)
        module = build(arch, len(CLASS_NAMES) - 1)
        # the zoo's own input arithmetic: 0..255 statistics, sides padded to a multiple of 16
        preprocess = {"pad_to_multiple": 16, "scale": 1, "mean": [float(v) for v in MEAN], "std": [float(v) for v in STD]}
        names = list(CLASS_NAMES)
    else:
        module_name, _, function = spec.partition(":")
        if not module_name or not function:
            raise InputError(f"--model is zoo:ARCH or MODULE:FUNCTION, got {spec!r}")
        try:
            builder = importlib.import_module(module_name)
            for part in function.split("."):
                builder = getattr(builder, part)
        except (ImportError, AttributeError) as error:
            raise InputError(f"--model: cannot import {spec}: {error}") from error
        torch.manual_seed(0)
        module = builder(**kwargs)
        if not isinstance(module, torch.nn.Module):
            raise InputError(f"--model: {spec} returned {type(module).__name__}, not a torch module")
        preprocess = {"scale": 255, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
        names = None
    module = module.eval().to(device)
    with torch.inference_mode():
        out = module(torch.zeros(1, 3, size, size, device=device))
    key = None
    if isinstance(out, dict):  # torchvision's {"out": ..., "aux": ...}
        key = "out" if "out" in out else next(iter(out))
        out = out[key]
    elif not isinstance(out, torch.Tensor):
        raise InputError(f"--model: {spec} answers {type(out).__name__}; the benchmark takes a tensor or a dict of them")
    if out.ndim != 4:
        raise InputError(f"--model: {spec} answers scores of shape {tuple(out.shape)}, not (N, K, H, W)")
    return module, key, names or [f"class_{k}" for k in range(out.shape[1])], preprocess


def card_of(path: Path, device, batch: int) -> tuple[dict, bytes, list[str]]:
    """(the card as stored, on `device` with `batch` images per forward, its stored artefact, its classes)."""
    from segmad.cards.card import load_card
    from segmad.cards.labels import LabelSpace
    from segmad.cards.runner import load_card_model
    from segmad.publish.register import stored_artefact

    card = load_card(path)
    artefact = stored_artefact(load_card_model(card, LabelSpace(card.classes)))
    return card.with_artefact(None).to_dict() | {"device": device.type, "batch_size": batch}, artefact, list(card.classes)


def traced(module, size: int, device) -> bytes:
    """The module traced to TorchScript at size x size on device: what the card and TorchServe load."""
    import torch

    buffer = io.BytesIO()
    # TorchScript is deprecated in torch but is what TorchServe loads; tracing warns about dict outputs.
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(module, torch.zeros(1, 3, size, size, device=device), strict=False), buffer)
    return buffer.getvalue()


class _Context:
    """The parts of TorchServe's context its handler reads and writes."""

    def __init__(self, model_dir: Path, serialized: str, gpu_id: int | None):
        self.system_properties = {"model_dir": str(model_dir), "gpu_id": gpu_id}
        self.manifest = {"model": {"serializedFile": serialized}}

    def set_response_content_type(self, idx: int, value: str) -> None:
        pass

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        pass


def handler_path(card: dict, names: list[str], artefact: bytes, folder: Path, gpu: bool):
    """run(images, batch) -> maps through TorchServe's handler in this process, on the card's model folder."""
    import importlib.util

    import segmad
    from segmad.adapters.torchserve_archive import HANDLER, card_files
    from segmad.codec import decode_png, encode_png, pack, unpack

    serialized, _ = card_files(card, names, artefact, folder)
    spec = importlib.util.spec_from_file_location("segmad_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler, context = module.SegmadHandler(), _Context(folder, serialized.name, 0 if gpu else None)
    # A worker puts the archive's segmad.cards on its path for good; here that path is a temporary folder,
    # and segmad is already imported: put the import paths back once the model is loaded.
    saved_path, saved_package = list(sys.path), list(segmad.__path__)
    try:
        handler.initialize(context)
    finally:
        sys.path[:] = saved_path
        segmad.__path__ = saved_package
    encoded: dict[int, bytes] = {}  # PNGs of the images, made once: the client's work, not the handler's

    def run(images, batch: int):
        for image in images:
            if id(image) not in encoded:
                encoded[id(image)] = encode_png(image)
        bodies = [encoded[id(image)] for image in images]
        maps = []
        for start in range(0, len(bodies), batch):
            chunk = bodies[start:start + batch]
            [answer] = handler.handle([{"body": chunk[0] if len(chunk) == 1 else pack(chunk)}], context)
            maps += [decode_png(m) for m in (unpack(answer) if len(chunk) > 1 else [answer])]
        return maps

    return run


class TorchServePath:
    """The card's archive in a private TorchServe; run(images, batch) -> maps over its inference API."""

    def __init__(self, card: dict, names: list[str], artefact: bytes, work: Path, threads: int):
        from segmad.adapters.torchserve import split_url
        from segmad.adapters.torchserve_archive import build_card_mar
        from segmad.adapters.torchserve_management import Management
        from segmad.stack.components import StackConfig
        from segmad.stack.process import free_ports, start
        from segmad.stack.services import torchserve

        names_of_ports = ("torchserve", "torchserve_management", "torchserve_metrics", "torchserve_grpc",
                          "torchserve_grpc_management")
        service = torchserve(StackConfig(work, dict(zip(names_of_ports, free_ports(len(names_of_ports)))), "", ""))
        self.service = dataclasses.replace(service, env={**service.env, "OMP_NUM_THREADS": str(threads)})
        self.run_dir = work / "run"
        start(self.service, self.run_dir, work / "logs")
        self.url = self.service.exports["SEGMAD_TORCHSERVE_URL"]
        self.segmenters: dict = {}
        try:
            mar = build_card_mar(MODEL_NAME, "1", card, names, artefact, Path(self.service.exports["SEGMAD_MODEL_STORE"]))
            management = Management(split_url(self.url)[1])
            # batch_size 1: each request is one forward of its images, as B says
            management.register(MODEL_NAME, mar.name, batch_size=1, max_batch_delay_ms=1)
        except BaseException:
            self.close()
            raise

    def __call__(self, images, batch: int):
        from segmad.adapters.torchserve import TorchServeSegmenter

        if batch not in self.segmenters:
            self.segmenters[batch] = TorchServeSegmenter(self.url, images_per_request=batch, timeout=600.0)
        return self.segmenters[batch].predict(MODEL_NAME, "1", images)

    def close(self) -> None:
        from segmad.stack.process import stop

        for segmenter in self.segmenters.values():
            segmenter.close()
        stop(self.service, self.run_dir, grace_s=5)


def run(args: argparse.Namespace) -> int:
    import torch

    from segmad.cards import LabelSpace, parse_card
    from segmad.cards.runner import CardModel
    from segmad.stack.services import torchserve_missing
    from segmad.world import WorldConfig, stack

    batches = batch_sizes(args.batches)
    if args.images < 1 or args.repeats < 1 or args.threads < 1 or args.size < 16:
        raise InputError("--images, --repeats and --threads must be at least 1, --size at least 16")
    try:
        kwargs = json.loads(args.kwargs)
    except json.JSONDecodeError as error:
        raise InputError(f"--kwargs is not JSON: {error}") from None
    if not isinstance(kwargs, dict):
        raise InputError("--kwargs is a JSON object of keyword arguments")
    say = print if args.format == "text" else (lambda line: None)
    torch.set_num_threads(args.threads)

    if args.device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda, but torch sees no CUDA device here")
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    if args.card is not None:
        if args.model != DEFAULT_MODEL or kwargs:
            raise InputError("--card times the card's own model: leave --model and --kwargs out")
        card, artefact, names = card_of(args.card, device, max(batches))
        model = f"card {args.card}"
    else:
        module, key, names, preprocess = model_of(args.model, kwargs, args.size, device)
        artefact = traced(module, args.size, device)
        del module
        card = {"format": "torchscript", "classes": names, "preprocess": {"resize": {"policy": "keep"}, **preprocess},
                "output": {"key": key} if key else {}, "device": device.type, "batch_size": max(batches)}
        model = args.model
    space = LabelSpace(tuple(names))
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({args.threads} thread{'s' * (args.threads > 1)})"
    distinct = list(stack(WorldConfig(size=args.size), "pool", range(min(args.images, DISTINCT_IMAGES)))[0])
    images = [distinct[i % len(distinct)] for i in range(args.images)]
    say(f"{model} at {args.size} px on {where}: {len(names)} classes, batches {', '.join(map(str, batches))}, "
        f"{args.images} images per run, best of {args.repeats}")

    in_process = CardModel(parse_card(card, stored=True), space, artefact)

    def run_in_process(images, batch: int):
        in_process.batch_size = batch
        return in_process.predict(images)[0]

    paths = {"in process": run_in_process}
    skipped = None
    with tempfile.TemporaryDirectory(prefix="segmad-bench-inference-") as tmp:
        (Path(tmp) / "handler").mkdir()
        paths["handler"] = handler_path(card, names, artefact, Path(tmp) / "handler", device.type == "cuda")
        served = None
        if args.no_torchserve:
            skipped = "--no-torchserve"
        elif why := torchserve_missing():
            skipped = why
        else:
            say("starting a private TorchServe")
            served = paths["torchserve"] = TorchServePath(card, names, artefact, Path(tmp) / "torchserve", args.threads)
        if skipped:
            say(f"torchserve path left out: {skipped}")
        try:
            rates, agreement = _timed(paths, images, batches, args.repeats, say)
        finally:
            if served is not None:
                served.close()
    figures = {"model": model, "kwargs": kwargs, "size": args.size, "device": where, "threads": args.threads,
               "classes": len(names), "images": args.images, "repeats": args.repeats, "batches": batches,
               "images_per_s": rates, "equal_pixels": agreement, "torchserve_left_out": skipped,
               "ratios": {f"{path} / in process": {str(b): rates[path][str(b)] / rates["in process"][str(b)]
                                                   for b in batches} for path in rates if path != "in process"}}
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))
    if args.format == "json":
        print(json.dumps(figures, indent=2))
        return 0
    width = max(len(path) for path in rates)
    print(f"images/s of {model} at {args.size} px on {where}")
    print(" " * width + "".join(f"{f'batch {b}':>12}" for b in batches))
    for path, by_batch in rates.items():
        print(f"{path:<{width}}" + "".join(f"{by_batch[str(b)]:>12.2f}" for b in batches))
    for name, by_batch in figures["ratios"].items():
        print(f"{name}: " + ", ".join(f"batch {b} {r:.2f}" for b, r in by_batch.items()))
    if agreement:
        print("pixels equal to in process's: " + ", ".join(f"{p} {100 * v:.2f}%" for p, v in agreement.items()))
    return 0


def _timed(paths: dict, images: list, batches: list[int], repeats: int, say) -> tuple[dict, dict]:
    """({path: {batch: best images/s}}, {path: share of its maps' pixels equal to in process's})."""
    import numpy as np

    best = {path: {str(b): 0.0 for b in batches} for path in paths}
    for batch in batches:  # warm each path at each batch size once: loads, allocations, the JIT's first runs
        for run in paths.values():
            run(images[:batch], batch)
    first, reference, agreement = next(iter(paths)), None, {}
    for round_ in range(repeats):
        for batch in batches:
            for path, run in paths.items():
                started = time.perf_counter()
                maps = run(images, batch)
                rate = len(images) / (time.perf_counter() - started)
                best[path][str(batch)] = max(best[path][str(batch)], rate)
                say(f"round {round_ + 1}, batch {batch}, {path}: {rate:.2f} images/s")
                if reference is None:
                    reference = maps  # in process's, the first path's
                elif path != first and path not in agreement:
                    agreement[path] = float(np.mean([np.mean(a == b) for a, b in zip(maps, reference)]))
    return best, agreement
