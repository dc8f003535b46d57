"""`segmad round start|status|candidates|close-mining|select|finetune|report N`: drive a round of Algorithm 1."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from segmad import bootstrap
from segmad.errors import InputError
from segmad.mad import IGNORE, class_fractions, size_bounds
from segmad.files import write_text_atomic
from segmad.offline.mining import training_bounds
from segmad.rounds import control
from segmad.world import CLASS_NAMES, WorldConfig, stack
from segmad.world.config import MAX_CLASSES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The round subcommands and their arguments."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = sub.add_parser("start", help="open round N: store its parameters and announce it to the workers")
    start.add_argument("round", type=int, metavar="N")
    start.add_argument("--target", default="target", metavar="NAME", help="the target model's name (default target)")
    start.add_argument("--target-version", metavar="V",
                       help="the version f_t^(N) to troubleshoot (default: the target's default version, "
                            "which the trainer moves to each new version)")
    start.add_argument("--n3", type=int, default=25, help="images kept per (competitor, class, partition)")
    start.add_argument("--n4", type=int, default=100, help="counterexamples selected for dense labelling")
    start.add_argument("--num-classes", type=int, default=WorldConfig().num_classes, metavar="C",
                       help="foreground classes 1..C (default: the synthetic world's)")
    start.add_argument("--class-names", metavar="A,B,...",
                       help="the C foreground class names shown to annotators (default: the world's with --world, "
                            "else class-1..class-C)")
    masks = start.add_mutually_exclusive_group(required=True)
    masks.add_argument("--train-masks", type=Path, metavar="DIR", help="training masks giving the size bounds")
    masks.add_argument("--world", action="store_true", help="size bounds from the synthetic world's S0 masks")
    for name, text in (("status", "the round's state and progress"),
                       ("candidates", "M and its heaps, as `segmad select` writes them")):
        command = sub.add_parser(name, help=text)
        command.add_argument("round", type=int, metavar="N")
        command.add_argument("--format", choices=("text", "json"), default="text")
        if name == "candidates":
            command.add_argument("--out", type=Path, metavar="FILE", help="write the JSON here (default stdout)")
    close = _step(sub, "close-mining", "freeze M and open the weak-rating campaign over it")
    close.add_argument("--test-size", type=int, default=30, help="|T| drawn when the ratings are in (default 30)")
    close.add_argument("--seed", type=int, help="seed of T's draw (default: the round number)")
    close.add_argument("--force", action="store_true", help="close although some images lack a prediction")
    close.add_argument("--wait", action="store_true",
                       help="first wait until every image is predicted and the heaps hold all of it")
    close.add_argument("--timeout", type=float, default=3600.0, metavar="S", help="how long --wait waits")
    select = _step(sub, "select", "close the ratings: S and T by the core; open dense labelling of S ∪ T")
    select.add_argument("--measure-only", action="store_true",
                        help="the last round of a run: label T only, evaluate, train nothing")
    select.add_argument("--force", action="store_true", help="select although some ratings are missing")
    report = sub.add_parser("report", help="write the report of the rounds so far")
    report.add_argument("--out", type=Path, default=Path("report"), metavar="DIR",
                        help="folder for index.html, summary.json and figures (default report; the labelling "
                             "service shows SEGMAD_REPORT_DIR at /report)")
    finetune = _step(sub, "finetune", "dense labels done: hand S ∪ S0 to the trainer service")
    finetune.add_argument("--wait", action="store_true", help="wait until the trainer has finished the round")
    finetune.add_argument("--timeout", type=float, default=3600.0, metavar="S", help="how long --wait waits")


def _step(sub, name: str, text: str) -> argparse.ArgumentParser:
    command = sub.add_parser(name, help=text)
    command.add_argument("round", type=int, metavar="N")
    command.add_argument("--format", choices=("text", "json"), default="text")
    if name != "finetune":
        command.add_argument("--annotators", metavar="A,B,...",
                             help="who labels (default: every annotator account that is not an admin)")
    return command


def run(args: argparse.Namespace) -> int:
    """Run one round action on the ports chosen by the environment."""
    if args.action == "start":
        _check_start(args)
    if getattr(args, "timeout", 1) <= 0:
        raise InputError(f"--timeout must be above 0 seconds, got {args.timeout:g}")
    ports = bootstrap.build()
    try:
        return ACTIONS[args.action](ports, args)
    finally:
        ports.close()


def _check_start(args) -> None:
    if args.n3 < 1 or args.n4 < 1:
        raise InputError("--n3 and --n4 must be at least 1")
    if args.round < 1:
        # Round N mines with f_t^(N-1) and trains v{N}; its test set is split t{N}, so 0 would be T0's name.
        raise InputError(f"round numbers start at 1, got {args.round}")
    most = MAX_CLASSES if args.world else IGNORE - 1  # 255 is ignore
    if not 1 <= args.num_classes <= most:
        raise InputError(f"--num-classes must be 1..{most}{' with --world' if args.world else ''}, got {args.num_classes}")


def _start(ports, args) -> int:
    if args.world:
        world = WorldConfig(num_classes=args.num_classes)
        masks = stack(world, "s0", range(world.s0_size))[1]
        bounds = size_bounds(np.stack([class_fractions(m, args.num_classes) for m in masks]), args.num_classes)
    else:
        bounds = training_bounds(args.train_masks, args.num_classes, progress=False)[0]
    names = _names(args.class_names) or (list(CLASS_NAMES[: args.num_classes]) if args.world else None)
    row = control.start(ports, args.round, args.target, args.target_version, args.n3, args.n4, bounds, names)
    print(f"round {row.round} started: {row.target}@{row.target_version}, "
          f"{len(row.settings.competitors)} competitors, n3={row.n3}", file=sys.stderr)
    return 0


def _names(text: str | None) -> list[str] | None:
    return [name.strip() for name in text.split(",") if name.strip()] if text else None


def _status(ports, args) -> int:
    state = control.status(ports, args.round)
    if args.format == "json":
        print(json.dumps(state, indent=2))
    else:
        for key, value in state.items():
            print(f"{key:20} {_text(value)}")
    return 0


def _text(value) -> str:
    """A status value on one line: lists joined, records as key=value (floats to 3 decimals)."""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items() if v is not None)
    return f"{value:.3f}" if isinstance(value, float) else str(value)


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
    if args.wait:
        control.wait_mined(ports, args.round, args.timeout, lambda line: print(line, file=sys.stderr))
    images, campaign_id = control.close_mining(ports, args.round, _names(args.annotators), args.test_size,
                                               args.seed, args.force)
    _done(args, {"round": args.round, "candidates": len(images), "weak_campaign": campaign_id},
          f"round {args.round}: mining closed, |M| = {len(images)}; weak-rating campaign #{campaign_id} is open")
    return 0


def _select(ports, args) -> int:
    result = control.select(ports, args.round, _names(args.annotators), args.measure_only, args.force)
    opened = (f"dense campaign #{result['dense_campaign']} is open" if result["dense_campaign"] is not None else
              f"nothing to label: `segmad round finetune {args.round}` may follow")
    _done(args, result, f"round {args.round}: |S| = {result['counterexamples']}, |T| = {result['test']}, "
                        f"{result['out_of_domain']} vetoed; {opened}")
    return 0


def _finetune(ports, args) -> int:
    result = control.finetune(ports, args.round)
    print(f"round {args.round}: {result['labels']} labels stored; the trainer takes over", file=sys.stderr)
    if args.wait:
        result["state"] = control.wait_until_done(ports, args.round, args.timeout, progress=args.format == "text")
    _done(args, result, f"round {args.round}: {result.get('state', 'training')}")
    return 0


def _report(ports, args) -> int:
    from segmad.report import write_report
    from segmad.report.rounds_page import write_rounds_report
    from segmad.report.rounds_report import rounds_summary
    from segmad.simulation.measures import RUN_KEY, Measures
    from segmad.simulation.summary import figures, summarize

    if not ports.blobs.exists(RUN_KEY):  # a team's own images: no world truth, report what the catalog holds
        index = write_rounds_report(args.out, rounds_summary(ports))
        print(f"report: {index} (from the catalog and the labelling records only: "
              "not a run on the synthetic world, so nothing is measured against a truth)", file=sys.stderr)
        return 0
    measures = Measures.of_stored_run(ports)
    result = measures.run(measures.done_rounds(), {}, baselines=False)
    summary = summarize(result)
    summary["description"] = summary["description"].replace("Run on the synthetic world", "Run over the services")
    index = write_report(args.out, summary, figures(result, summary, measures.galleries(result)))
    print(f"report: {index}", file=sys.stderr)
    return 0


def _done(args, document: dict, text: str) -> None:
    print(json.dumps(document) if args.format == "json" else text)


ACTIONS = {"start": _start, "status": _status, "candidates": _candidates, "close-mining": _close,
           "select": _select, "finetune": _finetune, "report": _report}
