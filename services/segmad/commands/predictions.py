"""`segmad predictions export|import`: a round's label maps out in the layout `segmad select` reads, and
maps made elsewhere in, as a model version's predictions (exchange/predictions.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segmad import bootstrap
from segmad.commands import model_name
from segmad.errors import InputError
from segmad.rounds import control


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """export --round N --out DIR."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="write DIR/<model>/<image_id>.png, the target as 'target'")
    export.add_argument("--round", type=int, required=True, metavar="N")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="a new or empty folder")


    imp = sub.add_parser("import", help="bring DIR/<image>.png maps made elsewhere into the catalog as NAME@VERSION")
    imp.add_argument("folder", type=Path, metavar="DIR", help="one 8-bit PNG per image, named by image id or by "
                                                               "the stem of the file it was ingested from")
    imp.add_argument("--model", type=model_name, required=True, metavar="NAME")
    imp.add_argument("--version", type=model_name, default="v0", help="default v0")
    imp.add_argument("--role", choices=("target", "competitor"), required=True)
    imp.add_argument("--classes", metavar="A,B,...", help="the model's classes, index 0 first (default: the run's, "
                                                           "SEGMAD_CLASSES)")
    imp.add_argument("--label-map", metavar="A=B,...", help="model class = run class (empty: ignore); "
                                                              "by default classes map by name")
    imp.add_argument("--no-default", action="store_true", help="do not make it the version new rounds use")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar (none when stderr is not a terminal)")


def _pairs(text: str | None) -> dict[str, str | None]:
    """"a=b,c=" -> {"a": "b", "c": None}."""
    pairs = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        if "=" not in part:
            raise InputError(f"--label-map: expected MODEL_CLASS=RUN_CLASS, got {part!r}")
        key, value = (x.strip() for x in part.split("=", 1))
        pairs[key] = value or None
    return pairs


def run(args: argparse.Namespace) -> int:
    """Export the maps of every image round N can mine, or import maps made elsewhere."""
    if args.action == "import":
        return _import(args)
    ports = bootstrap.build()
    try:
        count = control.export_predictions(ports, args.round, args.out)
    finally:
        ports.close()
    print(f"segmad predictions: {count} images x every model of round {args.round} -> {args.out}", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    from segmad.cards.labels import run_label_space
    from segmad.exchange.predictions import import_predictions
    from segmad.settings import load

    space = run_label_space(load().num_classes)
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    label_map = _pairs(args.label_map)
    if classes and (unknown := sorted(set(label_map) - set(classes))):
        raise InputError(f"--label-map names classes not in --classes: {', '.join(unknown)}")
    ports = bootstrap.build()
    try:
        result = import_predictions(ports, args.folder, args.model, args.version, args.role, space, classes,
                                    label_map, not args.no_default,
                                    progress=not args.no_progress and sys.stderr.isatty())
    finally:
        ports.close()
    print(f"segmad predictions: {result['imported']} new maps of {result['model']} ({result['maps']} in all)"
          + (f"; {len(result['unmatched'])} files match no image, e.g. {result['unmatched'][0]}"
             if result["unmatched"] else "") + _ambiguous(result["ambiguous"]), file=sys.stderr)
    return 0


def _ambiguous(ambiguous: dict[str, list[str]]) -> str:
    """The summary's clause for maps named by a file stem several images share ("" if none)."""
    if not ambiguous:
        return ""
    name, image_ids = next(iter(ambiguous.items()))
    return (f"; {len(ambiguous)} files match several images (ingested from files of the same name), "
            f"e.g. {name} could be {' or '.join(image_ids)}: name such a map by its image id, "
            f"e.g. {image_ids[0]}.png")
