"""`segmad select`: mine the candidate set M from label maps a user already has on disk (DESIGN §2)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from segmad.errors import InputError, not_a_folder
from segmad.mad import IGNORE
from segmad.files import write_text_atomic
from segmad.offline.layout import discover, label_tables
from segmad.offline.mining import mine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `segmad select`."""
    parser.add_argument("--predictions", type=Path, required=True, metavar="DIR",
                        help="DIR/<model>/<image_id>.png label maps (L or P mode); "
                        "every sub-folder but the target is a competitor")
    parser.add_argument("--target", required=True, metavar="NAME",
                        help="the sub-folder holding the target model's maps")
    parser.add_argument("--train-masks", type=Path, required=True, metavar="DIR",
                        help="training masks (PNG, 255 = ignore) whose class fractions give the size bounds")
    parser.add_argument("--num-classes", type=int, required=True, metavar="C",
                        help="foreground classes 1..C (0 = background)")
    parser.add_argument("--n3", type=int, required=True, metavar="N",
                        help="images kept per (competitor, class, partition)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the JSON result")
    parser.add_argument("--label-map", type=Path, metavar="FILE",
                        help="JSON or YAML mapping models with their own label sets onto the run's: "
                        '{"classes": [run classes], "models": {MODEL: {"classes": [...], "label_map": {A: B}}}} '
                        "(unmapped classes become 255, ignored)")
    parser.add_argument("--workers", type=int, default=1, metavar="K",
                        help="processes decoding and scoring the maps, this one included (default 1)")


def _check_arguments(args: argparse.Namespace) -> None:
    if args.n3 < 1:
        raise InputError(f"--n3 must be at least 1, got {args.n3}")
    if not 1 <= args.num_classes < IGNORE:
        raise InputError(f"--num-classes must be 1..{IGNORE - 1}, got {args.num_classes}")
    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    if args.out.is_dir():
        raise InputError("--out is a folder; give a file name", args.out)
    if not args.out.parent.is_dir():  # fail now rather than after the whole scan
        raise InputError(f"{not_a_folder(args.out.parent)} for --out's file", args.out.parent)


def run(args: argparse.Namespace) -> int:
    """Check the inputs, mine the heaps, write {"images": M, "heaps": [...]} atomically."""
    _check_arguments(args)
    folders = discover(args.predictions, args.target)
    if args.label_map is not None:
        folders = replace(folders, tables=label_tables(_read_spec(args.label_map), folders, args.num_classes))
    heaps, stats = mine(folders, args.train_masks, args.num_classes, args.n3, args.workers)
    candidates = heaps.candidates()
    records = heaps.to_records()
    write_text_atomic(args.out, json.dumps({"images": candidates, "heaps": records}, indent=2) + "\n")
    print(
        f"segmad select: |M| = {len(candidates)} images from {len(records)} heaps; scanned {stats.images} images "
        f"x {stats.competitors} competitors, {stats.training_masks} training masks in {stats.wall_seconds:.1f} s "
        f"-> {args.out}",
        file=sys.stderr,
    )
    return 0


def _read_spec(path: Path) -> dict:
    """The --label-map file (JSON, or YAML by its suffix)."""
    if not path.is_file():
        raise InputError("no such --label-map file", path)
    load = json.loads
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:  # the core install is numpy and Pillow only
            raise InputError("--label-map: a YAML file needs PyYAML (pip install 'segmad[models]', or pyyaml), "
                             "or write it as JSON", path) from None
        load = yaml.safe_load
    try:
        return load(path.read_text())
    except Exception as error:
        raise InputError(f"--label-map: {str(error).splitlines()[0]}", path) from error
