"""`segmad export ROUND --format voc|coco|labelstudio|fiftyone --out DIR`: a round in the formats other tools read."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segmad import bootstrap
from segmad.exchange.export import WRITERS, export_round


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """ROUND --format F --out DIR."""
    parser.add_argument("round", type=int, metavar="ROUND")
    parser.add_argument("--format", required=True, choices=sorted(WRITERS),
                        help="voc: a PASCAL VOC tree; coco: COCO JSON with RLE masks; labelstudio: a task file "
                             "with every model's maps as pre-annotations; fiftyone: a dataset that "
                             "fo.Dataset.from_dir(DIR, dataset_type=fo.types.FiftyOneDataset) loads")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="a new or empty folder")


def run(args: argparse.Namespace) -> int:
    """Export M, S, T, the accepted masks, every model's maps and each image's provenance."""
    ports = bootstrap.build()
    try:
        count = export_round(ports, args.round, args.format, args.out)
    finally:
        ports.close()
    print(f"segmad export: round {args.round}, {count} images as {args.format} -> {args.out}", file=sys.stderr)
    return 0
