"""`segmad demo`: the whole loop in one process, then the report."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
from pathlib import Path

from segmad.simulation.config import RunConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = RunConfig()
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the pool, W and the annotators (default %(default)s)")
    parser.add_argument("--report", default="report", help="folder for index.html, summary.json, figures (default %(default)s)")
    parser.add_argument("--pool-size", type=int, default=defaults.pool_size, help="|D| (default %(default)s)")
    parser.add_argument("--wild-size", type=int, default=defaults.wild_size, help="|W| (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=defaults.rounds, help="fine-tuning rounds r (default %(default)s)")
    parser.add_argument("--n3", type=int, default=defaults.n3, help="heap size (default %(default)s)")
    parser.add_argument("--n4", type=int, default=defaults.n4, help="counterexamples per round (default %(default)s)")
    parser.add_argument("--test-size", type=int, default=defaults.test_size, help="|T| per round (default %(default)s)")
    parser.add_argument("--annotators", type=int, default=defaults.annotators, help="simulated annotators (default %(default)s)")
    parser.add_argument("--rating-noise", type=float, default=defaults.rating_noise, help="std of rating noise (default %(default)s)")
    parser.add_argument("--finetune", choices=["demo", "paper"], default=defaults.finetune, help="fine-tuning preset (default %(default)s)")
    parser.add_argument("--no-baselines", action="store_true", help="skip the entropy and random baselines")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from segmad import bootstrap, settings as settings_module
    from segmad.demo.run import run_embedded
    from segmad.errors import InputError
    from segmad.report import write_report
    from segmad.trainer.training import finetune_config
    from segmad.simulation.measures import Measures
    from segmad.simulation.summary import figures, summarize
    from segmad.simulation.zoo import ensure_zoo

    for name in ("pool_size", "wild_size", "n3", "n4", "test_size", "annotators"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    if args.rounds < 0:
        raise InputError("--rounds must be at least 0")
    if args.annotators < 2:
        raise InputError("--annotators must be at least 2: every dense mask is reviewed by another annotator")
    config = RunConfig(seed=args.seed, pool_size=args.pool_size, wild_size=args.wild_size, rounds=args.rounds,
                       n3=args.n3, n4=args.n4, test_size=args.test_size, annotators=args.annotators,
                       rating_noise=args.rating_noise, finetune=args.finetune, baselines=not args.no_baselines)
    progress = not args.quiet
    started = time.perf_counter()
    settings = settings_module.load()
    zoo, train_world = ensure_zoo(settings.zoo_dir, progress=progress)
    zoo_seconds = time.perf_counter() - started

    run_dir = settings.data_dir / "runs" / f"demo-seed{config.seed}"
    shutil.rmtree(run_dir, ignore_errors=True)  # every demo starts from an empty catalog and store
    database_url = f"sqlite:///{run_dir / 'catalog.db'}"
    ports = bootstrap.build(dataclasses.replace(
        settings, data_dir=run_dir, database_url=database_url, blob_url=f"file://{(run_dir / 'blobs').resolve()}",
        bus="memory", torchserve_url=""))
    try:
        wild_world = dataclasses.replace(train_world, seed=config.seed, pool_size=config.pool_size,
                                         wild_size=config.wild_size)
        measures = Measures(ports, config, train_world, wild_world, progress=progress)
        result = run_embedded(ports, database_url, measures, zoo, finetune_config(config.finetune, config.finetune_max_steps),
                              progress=progress, say=(lambda line: None) if args.quiet else _say)
        summary = summarize(result)
        summary["timings_seconds"]["zoo"] = zoo_seconds
        summary["timings_seconds"]["total"] = time.perf_counter() - started
        index = write_report(args.report, summary, figures(result, summary, measures.galleries(result)))
    finally:
        ports.close()
    _print_headline(summary, index)
    return 0


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _print_headline(summary: dict, index: Path) -> None:
    from segmad.report.checks import conclusions

    for c in conclusions(summary):
        print(f"{'✔' if c['holds'] else '✘'} {c['claim']}: {c['evidence']}")
    print(f"report: {index}  ({summary['timings_seconds']['total']:.0f} s)", file=sys.stderr)
