"""`segmad zoo train|cards|publish|list`: train the missing zoo models on the synthetic world, write their model
cards, register them, show what is stored."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from segmad import settings
from segmad.models import ARCHITECTURES
from segmad.zoo.store import list_checkpoints, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`train`, `cards`, `publish` and `list` subcommands."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = sub.add_parser("train", help="train the missing models into <data_dir>/zoo")
    train.add_argument("--only", nargs="+", choices=list(ARCHITECTURES), metavar="ARCH",
                       help=f"train only these ({', '.join(ARCHITECTURES)})")
    train.add_argument("--force", action="store_true", help="retrain even if a checkpoint exists")
    train.add_argument("--seed", type=int, default=0, help="seed of weights, shuffles and flips (default 0)")
    train.add_argument("--epochs", type=_positive, help="override every recipe's epochs (quick runs)")
    train.add_argument("--s0-count", type=_positive, help="train on the first N images of S0 only (quick runs)")
    train.add_argument("--t0-count", type=_positive, help="score on the first N images of T0 only (quick runs)")
    train.add_argument("--threads", type=_positive, default=1, help="torch threads (default 1)")
    train.add_argument("--format", choices=("table", "json"), default="table")
    cards = sub.add_parser("cards", help="write the missing model cards beside the checkpoints (<arch>.card.json, "
                                         "for `segmad models add NAME --card`) and print their paths")
    cards.add_argument("--zoo", type=Path, help="the zoo's folder (default <data_dir>/zoo)")
    sub.add_parser("publish", help="add every zoo model as version v0 for the rounds (`target` and the "
                                   "competitors under their architecture's name); see `segmad models add`")
    listing = sub.add_parser("list", help="show the stored models")
    listing.add_argument("--format", choices=("table", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    """Train or list; print a table or JSON on stdout."""
    zoo_dir = settings.load().zoo_dir
    if args.action == "train":
        from segmad.zoo.training import train_zoo  # torch-heavy; only when training

        rows = train_zoo(zoo_dir, args.only or list(ARCHITECTURES), seed=args.seed, force=args.force,
                         epochs=args.epochs, s0_count=args.s0_count, t0_count=args.t0_count,
                         threads=args.threads, progress=sys.stderr.isatty())
    elif args.action == "cards":
        return _cards(args.zoo or zoo_dir)
    elif args.action == "publish":
        return _publish(zoo_dir)
    else:
        rows = [{**summary(m), "path": str(zoo_dir / f"{m['arch']}.pt")} for m in list_checkpoints(zoo_dir)]
    print(json.dumps(rows, indent=2) if args.format == "json" else _table(rows))
    return 0


def _cards(zoo_dir: Path) -> int:
    from segmad.errors import InputError
    from segmad.zoo.cards import write_missing_cards

    found = list_checkpoints(zoo_dir)
    if not found:
        raise InputError(f"no zoo in {zoo_dir}: `segmad zoo train` first")
    written = write_missing_cards(zoo_dir)
    for path in written:
        print(path)
    if not written:
        print(f"every checkpoint in {zoo_dir} has its card ({len(found)})", file=sys.stderr)
    return 0


def _publish(zoo_dir) -> int:
    from segmad import bootstrap
    from segmad.errors import InputError
    from segmad.publish.register import add_model
    from segmad.zoo.recipes import ZOO_ROLES
    from segmad.zoo.store import checkpoint_path

    found = [m["arch"] for m in list_checkpoints(zoo_dir)]
    if not found:
        raise InputError(f"no zoo in {zoo_dir}: `segmad zoo train` first")
    ports = bootstrap.build()
    try:
        for arch in found:
            role = ZOO_ROLES[arch]
            row = add_model(ports, "target" if role == "target" else arch, "v0", checkpoint_path(zoo_dir, arch), role)
            print(f"added {row.role} {row.name}@{row.version} ({row.arch})")
    finally:
        ports.close()
    return 0


def _table(rows: list[dict]) -> str:
    if not rows:
        return "no models in the zoo (run `segmad zoo train`)"
    lines = [f"{'arch':<14} {'role':<11} {'params':>8} {'train s':>8} {'cpu s':>7} {'T0 mIoU':>8}  {'status' if 'status' in rows[0] else 'path'}"]
    for r in rows:
        lines.append(f"{r['arch']:<14} {r['role']:<11} {r['params']:>8,} {r['train_seconds']:>8.1f} "
                     f"{r['train_cpu_seconds'] or 0:>7.1f} {r['t0_miou']:>8.3f}  {r.get('status', r.get('path', ''))}")
    return "\n".join(lines)


def _positive(text: str) -> int:
    """argparse type of the counts: a whole number >= 1 (argparse names the option)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value
