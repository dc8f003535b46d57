"""`segmad round start|status|candidates|close-mining N`: drive a mining round on the configured ports."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from segmad import bootstrap
from segmad.errors import InputError
from segmad.mad import class_fractions, size_bounds
from segmad.offline.atomic import write_text_atomic
from segmad.offline.mining import training_bounds
from segmad.rounds import control
from segmad.world import WorldConfig, stack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The round subcommands and their arguments."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = sub.add_parser("start", help="open round N: store its parameters and announce it to the workers")
    start.add_argument("round", type=int, metavar="N")
    start.add_argument("--target", default="target", metavar="NAME", help="the target model's name (default target)")
    start.add_argument("--target-version", required=True, metavar="V", help="the version f_t^(N) to troubleshoot")
    start.add_argument("--n3", type=int, default=25, help="images kept per (competitor, class, partition)")
    start.add_argument("--n4", type=int, default=100, help="counterexamples selected for dense labelling")
    start.add_argument("--num-classes", type=int, default=WorldConfig().num_classes, metavar="C",
                       help="foreground classes 1..C (default: the synthetic world's)")
    masks = start.add_mutually_exclusive_group(required=True)
    masks.add_argument("--train-masks", type=Path, metavar="DIR", help="training masks giving the size bounds")
    masks.add_argument("--world", action="store_true", help="size bounds from the synthetic world's S0 masks")
    for name, text in (("status", "the round's state and progress"),
                       ("candidates", "M and its heaps, as `segmad select` writes them"),
                       ("close-mining", "freeze M and move the round on to weak rating")):
        command = sub.add_parser(name, help=text)
        command.add_argument("round", type=int, metavar="N")
        command.add_argument("--format", choices=("text", "json"), default="text")
        if name == "candidates":
            command.add_argument("--out", type=Path, metavar="FILE", help="write the JSON here (default stdout)")


def run(args: argparse.Namespace) -> int:
    """Run one round action on the ports chosen by the environment."""
    if args.action == "start":
        _check_start(args)
    ports = bootstrap.build()
    try:
        return ACTIONS[args.action](ports, args)
    finally:
        ports.close()


def _check_start(args) -> None:
    if args.n3 < 1 or args.n4 < 1:
        raise InputError("--n3 and --n4 must be at least 1")
    if args.round < 0:
        raise InputError(f"round numbers start at 0, got {args.round}")


def _start(ports, args) -> int:
    if args.world:
        world = WorldConfig(num_classes=args.num_classes)
        masks = stack(world, "s0", range(world.s0_size))[1]
        bounds = size_bounds(np.stack([class_fractions(m, args.num_classes) for m in masks]), args.num_classes)
    else:
        bounds = training_bounds(args.train_masks, args.num_classes, progress=False)[0]
    row = control.start(ports, args.round, args.target, args.target_version, args.n3, args.n4, bounds)
    print(f"round {row.round} started: {row.target}@{row.target_version}, "
          f"{len(row.settings['competitors'])} competitors, n3={row.n3}", file=sys.stderr)
    return 0


def _status(ports, args) -> int:
    state = control.status(ports, args.round)
    if args.format == "json":
        print(json.dumps(state, indent=2))
    else:
        for key, value in state.items():
            print(f"{key:20} {', '.join(value) if isinstance(value, list) else value}")
    return 0


def _candidates(ports, args) -> int:
    document = control.candidates(ports, args.round)
    text = json.dumps(document, indent=2) + "\n" if args.format == "json" else "".join(
        f"{i}\n" for i in document["images"])
    if args.out:
        write_text_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


def _close(ports, args) -> int:
    images = control.close_mining(ports, args.round)
    print(json.dumps({"round": args.round, "candidates": len(images)}) if args.format == "json"
          else f"round {args.round}: mining closed, |M| = {len(images)}")
    return 0


ACTIONS = {"start": _start, "status": _status, "candidates": _candidates, "close-mining": _close}
