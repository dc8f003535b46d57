"""`segmad models add|list|publish|set-default`: the models of the rounds (catalog) and of TorchServe."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import requests

from segmad import settings
from segmad.adapters.torchserve import split_url
from segmad.commands import model_name
from segmad.errors import InputError
from segmad.adapters.torchserve_management import Management, ManagementError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`publish`, `list` and `set-default` subcommands."""
    parser.add_argument("--torchserve", metavar="URL", help="inference URL (default SEGMAD_TORCHSERVE_URL)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    pub = sub.add_parser("publish", help="archive a model as a .mar in the model store and register it")
    pub.add_argument("name", type=model_name)
    pub.add_argument("--version", type=model_name, help="default: one more than the highest registered integer version")
    source = pub.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="a segmad zoo checkpoint (.pt)")
    source.add_argument("--torchscript", type=Path, help="a TorchScript module: normalised (N,3,H,W) -> logits")
    pub.add_argument("--input-size", type=int, nargs="+", metavar="S", help="H [W] the module takes (--torchscript)")
    pub.add_argument("--mean", type=float, nargs=3, default=(0.485, 0.456, 0.406), help="0..1 scale (ImageNet's)")
    pub.add_argument("--std", type=float, nargs=3, default=(0.229, 0.224, 0.225), help="0..1 scale (ImageNet's)")
    pub.add_argument("--classes", nargs="+", metavar="NAME", help="class names, index 0 first (--torchscript)")
    pub.add_argument("--model-store", type=Path, required=True, help="TorchServe's --model-store folder")
    pub.add_argument("--batch-size", type=int, default=8, help="server-side batch size (default 8)")
    pub.add_argument("--max-batch-delay", type=int, default=20, help="ms to wait to fill a batch (default 20)")
    pub.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    pub.add_argument("--set-default", action="store_true", help="make this version the default")
    add = sub.add_parser("add", help="make a model a version the rounds use: blob store, catalog, "
                                     "and TorchServe when SEGMAD_TORCHSERVE_URL is set")
    add.add_argument("name", type=model_name,
                     help="the target is usually called `target`; competitors by their architecture")
    model = add.add_mutually_exclusive_group(required=True)
    model.add_argument("--card", type=Path, help="a model card (.yaml/.json: TorchScript, ONNX or Python model; "
                                                 "see README, Your own models); checked on probe images first")
    model.add_argument("--checkpoint", type=Path, help="a segmad checkpoint (`segmad zoo` format)")
    add.add_argument("--role", choices=("target", "competitor"), help="required with --checkpoint; "
                                                                        "a card may say it")
    add.add_argument("--version", type=model_name, default="v0",
                     help="default v0 (the trainer names round N's version vN)")
    add.add_argument("--no-default", action="store_true", help="do not make it the version new rounds use")
    listing = sub.add_parser("list", help="show the models and versions: the catalog's, or TorchServe's with --torchserve")
    listing.add_argument("--served", action="store_true", help="TorchServe's registrations (batch size, workers) "
                                                                "instead of the catalog's models")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    default = sub.add_parser("set-default", help="make VERSION the version /predictions/NAME answers with")
    default.add_argument("name")
    default.add_argument("version")


def run(args: argparse.Namespace) -> int:
    """Add, publish, list or switch; errors from TorchServe become user errors."""
    if args.action == "add":
        return _add(args)
    if args.action == "list" and not (args.served or args.torchserve):
        return _list_catalog(args.format)
    url = args.torchserve or settings.load().torchserve_url
    if not url:
        raise InputError("no TorchServe: pass --torchserve URL or set SEGMAD_TORCHSERVE_URL")
    try:
        management = Management(split_url(url)[1])
    except ValueError as error:
        raise InputError(f"TorchServe URL {url!r}: {error}") from error
    try:
        if args.action == "publish":
            _publish(management, args)
        elif args.action == "set-default":
            management.set_default(args.name, args.version)
        else:
            _list(management, args.format)
    except requests.ConnectionError as error:
        raise InputError(f"cannot reach TorchServe's management API at {management.url}") from error
    except (ValueError, ManagementError, OSError) as error:
        raise InputError(str(error)) from error
    return 0


def _add(args: argparse.Namespace) -> int:
    from segmad import bootstrap
    from segmad.publish.register import add_model

    from segmad.publish.register import add_card

    if args.checkpoint is not None and args.role is None:
        raise InputError("--checkpoint needs --role target|competitor")
    if args.card is not None and not args.card.is_file():
        raise InputError(f"no such card: {args.card}")
    ports = bootstrap.build()
    try:
        if args.card is not None:
            row = add_card(ports, args.name, args.version, args.card, args.role, not args.no_default)
        else:
            row = add_model(ports, args.name, args.version, args.checkpoint, args.role, not args.no_default)
    except (ManagementError, requests.ConnectionError) as error:
        raise InputError(f"TorchServe: {error}") from error
    finally:
        ports.close()
    print(f"added {row.role} {row.name}@{row.version} ({row.arch})")
    return 0


def _names(classes: str | list[str], width: int = 60) -> str:
    """The classes column: whole names up to `width` characters, then how many there are in all."""
    if isinstance(classes, str):
        return classes
    text = ", ".join(classes)
    if len(text) <= width:
        return text
    shown = []
    for name in classes:
        if len(", ".join([*shown, name])) > width:
            break
        shown.append(name)
    return ", ".join(shown) + f", … ({len(classes)} in all)"


def _list_catalog(output: str) -> int:
    """The catalog's models: role, format, classes (the model's own), versions, the default marked."""
    from segmad import bootstrap

    ports = bootstrap.build()
    try:
        rows = []
        for version in ports.catalog.model_versions():
            metrics = version.metrics
            default = ports.catalog.default_version(version.name)
            rows.append({"name": version.name, "version": version.version, "role": version.role,
                         "format": metrics.get("format", "zoo"), "arch": version.arch,
                         "classes": metrics.get("classes") or metrics.get("run_classes")
                         or f"C = {metrics.get('num_classes', '?')}",
                         "default": version.version == default, "parent": version.parent_version,
                         "trained_on_round": version.trained_on_round})
    finally:
        ports.close()
    if output == "json":
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<20} {'version':<8} {'default':<8} {'role':<11} {'format':<12} classes")
    for r in rows:
        print(f"{r['name']:<20} {r['version']:<8} {'yes' if r['default'] else '':<8} {r['role']:<11} "
              f"{r['format']:<12} {_names(r['classes'])}")
    return 0


def _publish(management: Management, args: argparse.Namespace) -> None:
    from segmad.adapters.torchserve_archive import ModelSpec
    from segmad.publish.service import next_version, publish

    spec = None
    source = args.checkpoint or args.torchscript
    if not source.is_file():
        raise InputError(f"no such file: {source}")
    if args.torchscript is not None:
        if not args.input_size or len(args.input_size) > 2 or not args.classes:
            raise InputError("--torchscript needs --input-size H [W] and --classes")
        size = tuple((args.input_size * 2)[:2])  # one number means a square
        spec = ModelSpec(size, tuple(args.mean), tuple(args.std), tuple(args.classes))
    version = args.version or next_version(management, args.name)
    mar = publish(management, args.model_store, args.name, version, checkpoint=args.checkpoint,
                  torchscript=args.torchscript, spec=spec, batch_size=args.batch_size,
                  max_batch_delay_ms=args.max_batch_delay, workers=args.workers, make_default=args.set_default)
    print(f"published {args.name} version {version} ({mar})")


def _list(management: Management, output: str) -> None:
    rows = []
    for name in sorted({ref.name for ref in management.models()}):
        default = management.default_version(name)
        rows += [{"name": name, "version": v["modelVersion"], "default": v["modelVersion"] == default,
                  "batch_size": v.get("batchSize"), "max_batch_delay_ms": v.get("maxBatchDelay"),
                  "workers": len(v.get("workers", []))} for v in management.versions(name)]
    if output == "json":
        print(json.dumps(rows, indent=2))
        return
    print(f"{'name':<20} {'version':<8} {'default':<8} {'batch':>5} {'workers':>7}")
    for r in rows:
        print(f"{r['name']:<20} {r['version']:<8} {'yes' if r['default'] else '':<8} {r['batch_size']:>5} {r['workers']:>7}")
