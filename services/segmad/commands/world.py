"""`segmad world export`: write samples of the world to a folder as PNGs plus a JSON-lines index."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from segmad.errors import InputError
from segmad.world import SPLITS, WorldConfig, samples, split_size
from segmad.world.config import MAX_SIZE, MIN_SIZE, check_size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `export` subcommand and its options."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="write images, masks and samples.jsonl to a folder",
                            description="Write images, masks and samples.jsonl to a folder.")
    export.add_argument("--split", required=True, choices=SPLITS, help="which split to export")
    export.add_argument("--count", required=True, type=_non_negative, help="how many samples")
    export.add_argument("--out", required=True, type=Path, help="folder to write into")
    export.add_argument("--start", type=_non_negative, default=0, help="first index (default 0)")
    defaults = WorldConfig()
    export.add_argument("--seed", type=int, default=defaults.seed,
                        help=f"world seed (default {defaults.seed})")
    export.add_argument("--size", type=int, default=defaults.size,
                        help=f"image side in pixels, {MIN_SIZE}..{MAX_SIZE} (default {defaults.size})")
    export.add_argument("--no-progress", action="store_true",
                        help="no progress bar (none when stderr is not a terminal)")


def run(args: argparse.Namespace) -> int:
    """Export args.count samples of args.split starting at args.start."""
    try:
        check_size(args.size, "--size")
        config = WorldConfig(seed=args.seed, size=args.size)
    except ValueError as error:
        raise InputError(str(error)) from None
    available = split_size(config, args.split) - args.start
    if args.count > available:
        raise InputError(f"split {args.split} has {max(available, 0)} samples from index "
                         f"{args.start}, asked for {args.count}")
    if args.out.exists() and not args.out.is_dir():
        raise InputError("exists and is not a folder", path=args.out)
    images, masks = args.out / "images", args.out / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(exist_ok=True)
    with open(args.out / "samples.jsonl", "w", encoding="utf-8") as index:
        for one in tqdm(samples(config, args.split, args.start, args.count), total=args.count,
                        desc=f"world {args.split}", unit="img",
                        disable=args.no_progress or not sys.stderr.isatty()):
            Image.fromarray(one.image).save(images / f"{one.image_id}.png")
            Image.fromarray(one.mask).save(masks / f"{one.image_id}.png")
            index.write(json.dumps({"image_id": one.image_id, "shifts": list(one.shifts),
                                    "in_domain": one.in_domain}) + "\n")
    return 0


def _non_negative(text: str) -> int:
    """argparse type of --count and --start: a whole number >= 0 (argparse names the option)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value
