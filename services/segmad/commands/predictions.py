"""`segmad predictions export --round N --out DIR`: a round's label maps in the layout `segmad select` reads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segmad import bootstrap
from segmad.rounds import control


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """export --round N --out DIR."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="write DIR/<model>/<image_id>.png, the target as 'target'")
    export.add_argument("--round", type=int, required=True, metavar="N")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="a new or empty folder")


def run(args: argparse.Namespace) -> int:
    """Export the maps of every image round N can mine."""
    ports = bootstrap.build()
    try:
        count = control.export_predictions(ports, args.round, args.out)
    finally:
        ports.close()
    print(f"segmad predictions: {count} images x every model of round {args.round} -> {args.out}", file=sys.stderr)
    return 0
