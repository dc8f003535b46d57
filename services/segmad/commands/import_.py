"""`segmad import ROUND --format cvat|voc|labelstudio SOURCE --as ADMIN`: masks made elsewhere, for review."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from segmad import bootstrap
from segmad.exchange.import_masks import import_masks
from segmad.exchange.readers import READERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """ROUND --format F SOURCE --as ADMIN [--json]."""
    parser.add_argument("round", type=int, metavar="ROUND")
    parser.add_argument("--format", required=True, choices=sorted(READERS),
                        help="cvat: a 'Segmentation mask 1.1' zip; voc: a VOC tree (folder or zip); "
                             "labelstudio: a JSON export with brush labels")
    parser.add_argument("source", type=Path, metavar="FILE_OR_DIR")
    parser.add_argument("--as", dest="admin", required=True, metavar="ADMIN",
                        help="the admin account the masks are imported by (reviewed by someone else)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def run(args: argparse.Namespace) -> int:
    """Import the masks whose file names match images of the round's dense campaign."""
    ports = bootstrap.build()
    try:
        outcome = import_masks(ports, args.round, args.format, args.source, args.admin)
    finally:
        ports.close()
    if args.json:
        print(json.dumps(outcome))
    print(f"segmad import: {len(outcome['imported'])} masks into campaign {outcome['campaign']} awaiting review; "
          f"{len(outcome['unmatched'])} files matched no image", file=sys.stderr)
    return 0
