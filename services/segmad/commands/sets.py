"""`segmad sets add|list`: the labelled training sets S0 and T0 that fine-tuning reads from the blob store."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from segmad import bootstrap
from segmad.errors import InputError, not_a_folder
from segmad.offline.maps import list_pngs, read_label_map
from segmad.pipeline import sets
from segmad.world import WorldConfig, samples
from segmad.world.config import check_num_classes, check_size

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`add NAME (--world | --images DIR --masks DIR)` and `list`."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="store a labelled set (replacing one of that name)")
    add.add_argument("name", metavar="NAME", help="the trainer reads 's0' (S0) and 't0' (T0)")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--world", action="store_true", help="a split of the synthetic world")
    source.add_argument("--images", type=Path, metavar="DIR", help="RGB images <id>.png|.jpg, of any sizes")
    add.add_argument("--masks", type=Path, metavar="DIR", help="label maps <id>.png, each the size of its image")
    add.add_argument("--num-classes", type=int, metavar="C", help="foreground classes (default: the world's, "
                     "or the largest label in the masks)")
    defaults = WorldConfig()
    add.add_argument("--split", choices=("s0", "t0"), help="world split (default: NAME when it is s0 or t0)")
    add.add_argument("--count", type=int, metavar="N", help="first N images of the split (default: all)")
    add.add_argument("--seed", type=int, default=defaults.seed, help=f"world seed (default {defaults.seed})")
    add.add_argument("--size", type=int, default=defaults.size, help=f"world image side (default {defaults.size})")
    listing = sub.add_parser("list", help="the stored sets with their sizes")
    listing.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    """Add or list sets on the blob store chosen by the environment."""
    source = _source(args) if args.action == "add" else None  # user errors before any connection
    ports = bootstrap.build()
    try:
        if source is not None:
            items, num_classes = source
            try:
                sets.put_set_items(ports, args.name, items, num_classes)
            except ValueError as error:
                raise InputError(str(error)) from None
            found = sets.manifest(ports, args.name)
            print(f"set {args.name}: {len(found['images'])} images, C = {found['num_classes']}")
        else:
            rows = [{"name": name, "images": len(m["images"]), "num_classes": m["num_classes"]}
                    for name in sets.set_names(ports) if (m := sets.manifest(ports, name))]
            print(json.dumps(rows, indent=2) if args.format == "json" else
                  "\n".join(f"{r['name']:<16} {r['images']:>7} images  C = {r['num_classes']}" for r in rows))
    finally:
        ports.close()
    return 0


def _source(args) -> tuple[Iterator[sets.Item], int | None]:
    """The set's (id, image, mask) items, read lazily, and C; what can be checked without reading is."""
    try:
        sets.check_name(args.name)
    except ValueError as error:
        raise InputError(str(error)) from None
    if args.world:
        return _world(args)
    if args.masks is None:
        raise InputError("--images needs --masks")
    return _folders(args.images, args.masks), args.num_classes


def _world(args) -> tuple[Iterator[sets.Item], int]:
    split = args.split or args.name
    if split not in ("s0", "t0"):
        raise InputError(f"--world needs --split s0|t0 for a set named {args.name!r}")
    try:
        check_size(args.size, "--size")
        if args.num_classes:
            check_num_classes(args.num_classes, "--num-classes")
        world = WorldConfig(seed=args.seed, size=args.size, **(
            {"num_classes": args.num_classes} if args.num_classes else {}))
    except ValueError as error:
        raise InputError(str(error)) from None
    size = world.s0_size if split == "s0" else world.t0_size
    count = size if args.count is None else args.count
    if not 1 <= count <= size:
        raise InputError(f"--count must be in 1..{size} for split {split}")
    return ((s.image_id, s.image, s.mask) for s in samples(world, split, 0, count)), world.num_classes


def _folders(image_dir: Path, mask_dir: Path) -> Iterator[sets.Item]:
    """Checks the folders now; the generator reads one image and its mask at a time."""
    if not image_dir.is_dir():
        raise InputError(not_a_folder(image_dir), image_dir)
    files: dict[str, Path] = {}
    for path in sorted(image_dir.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES:
            if path.stem in files:
                raise InputError(f"image id {path.stem!r} appears twice in this folder", path)
            try:
                files[sets.check_name(path.stem)] = path
            except ValueError as error:
                raise InputError(str(error), path) from None
    masks = list_pngs(mask_dir)
    if not files:
        raise InputError("no .png or .jpg images", image_dir)
    if missing := sorted(set(files) - set(masks)):
        raise InputError(f"no mask for {len(missing)} images, e.g. {missing[0]}", mask_dir)
    return _pairs(sorted(files), files, {i: mask_dir / masks[i] for i in files})


def _pairs(ids: list[str], images: dict[str, Path], masks: dict[str, Path]) -> Iterator[sets.Item]:
    for image_id in ids:
        image, mask = _rgb(images[image_id]), read_label_map(masks[image_id])
        if mask.shape != image.shape[:2]:
            raise InputError(f"the mask is {mask.shape[1]}x{mask.shape[0]} pixels, its image "
                             f"{images[image_id].name} is {image.shape[1]}x{image.shape[0]}", masks[image_id])
        yield image_id, image, mask


def _rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise InputError(f"cannot read image ({type(error).__name__})", path) from None
