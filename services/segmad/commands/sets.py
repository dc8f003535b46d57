"""`segmad sets add|list`: the labelled training sets S0 and T0 that fine-tuning reads from the blob store."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from segmad import bootstrap
from segmad.errors import InputError
from segmad.offline.maps import list_pngs, read_label_map
from segmad.pipeline import sets
from segmad.world import WorldConfig, stack

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`add NAME (--world | --images DIR --masks DIR)` and `list`."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="store a labelled set (replacing one of that name)")
    add.add_argument("name", metavar="NAME", help="the trainer reads 's0' (S0) and 't0' (T0)")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--world", action="store_true", help="a split of the synthetic world")
    source.add_argument("--images", type=Path, metavar="DIR", help="RGB images <id>.png|.jpg, all one size")
    add.add_argument("--masks", type=Path, metavar="DIR", help="label maps <id>.png for --images")
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
    loaded = _read(args) if args.action == "add" else None  # user errors before any connection
    ports = bootstrap.build()
    try:
        if loaded is not None:
            ids, images, masks, num_classes = loaded
            try:
                sets.put_set(ports, args.name, ids, images, masks, num_classes)
            except ValueError as error:
                raise InputError(str(error)) from None
            print(f"set {args.name}: {len(ids)} images, C = {sets.manifest(ports, args.name)['num_classes']}")
        else:
            rows = [{"name": name, "images": len(m["images"]), "num_classes": m["num_classes"]}
                    for name in sets.set_names(ports) if (m := sets.manifest(ports, name))]
            print(json.dumps(rows, indent=2) if args.format == "json" else
                  "\n".join(f"{r['name']:<16} {r['images']:>7} images  C = {r['num_classes']}" for r in rows))
    finally:
        ports.close()
    return 0


def _read(args) -> tuple[list[str], np.ndarray, np.ndarray, int | None]:
    try:
        sets.check_name(args.name)
    except ValueError as error:
        raise InputError(str(error)) from None
    if args.world:
        return _world(args)
    if args.masks is None:
        raise InputError("--images needs --masks")
    return _folders(args.images, args.masks) + (args.num_classes,)


def _world(args) -> tuple[list[str], np.ndarray, np.ndarray, int]:
    split = args.split or args.name
    if split not in ("s0", "t0"):
        raise InputError(f"--world needs --split s0|t0 for a set named {args.name!r}")
    try:
        world = WorldConfig(seed=args.seed, size=args.size, **(
            {"num_classes": args.num_classes} if args.num_classes else {}))
    except ValueError as error:
        raise InputError(str(error)) from None
    size = world.s0_size if split == "s0" else world.t0_size
    count = size if args.count is None else args.count
    if not 1 <= count <= size:
        raise InputError(f"--count must be in 1..{size} for split {split}")
    images, masks = stack(world, split, range(count))
    return [f"{split}-{i:06d}" for i in range(count)], images, masks, world.num_classes


def _folders(image_dir: Path, mask_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    if not image_dir.is_dir():
        raise InputError("no such folder", image_dir)
    files = {p.stem: p for p in sorted(image_dir.iterdir())
             if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES}
    masks = list_pngs(mask_dir)
    if not files:
        raise InputError("no .png or .jpg images", image_dir)
    if missing := sorted(set(files) - set(masks)):
        raise InputError(f"no mask for {len(missing)} images, e.g. {missing[0]}", mask_dir)
    ids = sorted(files)
    images = [_rgb(files[i]) for i in ids]
    labels = [read_label_map(mask_dir / masks[i]) for i in ids]
    for i, image, mask in zip(ids, images, labels):
        if image.shape[:2] != images[0].shape[:2] or mask.shape != image.shape[:2]:
            raise InputError(f"image {i} or its mask is not {images[0].shape[1]}x{images[0].shape[0]} like the "
                             "first image (a set's images share one size)", image_dir)
    return ids, np.stack(images), np.stack(labels)


def _rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as error:
        raise InputError(f"cannot read image ({type(error).__name__})", path) from None
