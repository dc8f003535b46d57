"""`segmad e2e`: Algorithm 1 over a fresh local stack of real servers, then the report (and a comparison).

Starts a private stack (PostgreSQL schema, SeaweedFS, Tansu, TorchServe, the segmad services),
seeds it with the zoo, S0/T0 and the pool, runs the rounds with simulated people working through
the labelling API, writes the report, and with --compare runs the embedded demo on the same seed
and pool and checks both reach the same conclusions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import shutil
import sys
import time
from pathlib import Path

from segmad.simulation.config import RunConfig

def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = RunConfig()
    parser.add_argument("--seed", type=int, default=d.seed, help="seed of the pool, W and the annotators (default %(default)s)")
    parser.add_argument("--pool-size", type=int, default=1000, help="|D| (default %(default)s)")
    parser.add_argument("--wild-size", type=int, default=500, help="|W| (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=d.rounds, help="fine-tuning rounds r (default %(default)s)")
    parser.add_argument("--n3", type=int, default=d.n3, help="heap size (default %(default)s)")
    parser.add_argument("--n4", type=int, default=d.n4, help="counterexamples per round (default %(default)s)")
    parser.add_argument("--test-size", type=int, default=d.test_size, help="|T| per round (default %(default)s)")
    parser.add_argument("--annotators", type=int, default=d.annotators, help="simulated annotators (default %(default)s)")
    parser.add_argument("--finetune-max-steps", type=int, help="cap on fine-tuning steps per learning rate")
    parser.add_argument("--no-baselines", action="store_true", help="skip the entropy and random baselines")
    parser.add_argument("--tiny-zoo", action="store_true",
                        help="train a small, weak zoo in seconds instead of using the real one (for tests)")
    parser.add_argument("--no-torchserve", action="store_true",
                        help="the workers predict in their own process instead of through TorchServe")
    parser.add_argument("--compare", action="store_true",
                        help="also run the embedded demo on the same seed and pool and compare (comparison.json)")
    parser.add_argument("--stack", type=Path, default=Path("var/e2e"), help="the private stack's folder (default %(default)s)")
    parser.add_argument("--running", action="store_true",
                        help="use the stack already running at --stack (e.g. var/stack of `make up`) as it is: "
                             "no fresh start, no stop; its catalog must hold no rounds yet")
    parser.add_argument("--keep-stack", action="store_true", help="leave the stack running afterwards (and its data)")
    parser.add_argument("--report", type=Path, default=Path("report"), help="report folder (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds any one step may take (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _check(args) -> RunConfig:
    from segmad.errors import InputError

    for name in ("pool_size", "wild_size", "n3", "n4", "test_size", "annotators"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    if args.rounds < 0:
        raise InputError("--rounds must be at least 0")
    if args.annotators < 2:
        raise InputError("--annotators must be at least 2: every dense mask is reviewed by another annotator")
    return RunConfig(seed=args.seed, pool_size=args.pool_size, wild_size=args.wild_size, rounds=args.rounds,
                     n3=args.n3, n4=args.n4, test_size=args.test_size, annotators=args.annotators,
                     finetune_max_steps=args.finetune_max_steps, baselines=not args.no_baselines)


def _zoo(args, settings, say):
    from segmad.simulation.zoo import ensure_tiny_zoo, ensure_zoo

    if not args.tiny_zoo:
        return ensure_zoo(settings.zoo_dir, progress=not args.quiet)
    zoo_dir = settings.data_dir / "tiny-zoo"
    say(f"tiny zoo in {zoo_dir}")
    return ensure_tiny_zoo(zoo_dir)


def run(args: argparse.Namespace) -> int:
    from segmad import bootstrap, settings as settings_module
    from segmad.e2e.driver import compare, run_over_services
    from segmad.errors import InputError
    from segmad.report import write_report
    from segmad.simulation.measures import Measures
    from segmad.simulation.summary import figures, summarize
    from segmad.stack.local import Stack
    from segmad.stack.components import TIERS

    config = _check(args)
    say = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    started = time.perf_counter()
    zoo, train_world = _zoo(args, settings_module.load(), say)
    wild_world = dataclasses.replace(train_world, seed=config.seed, pool_size=config.pool_size,
                                     wild_size=config.wild_size)
    report = args.report.resolve()
    stack = Stack(args.stack)
    if args.running:
        env = stack.read_env()
        if not env or any(row["state"] != "running" for row in stack.status() if row["state"] != "skipped"
                          and row["name"] != "postgres"):
            raise InputError(f"no running stack at {stack.root}; start it with `make up`")
    else:
        # What the private stack's services inherit: a schema of their own in the shared PostgreSQL,
        # the fine-tuning budget, and where the labelling service finds the report it serves.
        os.environ["SEGMAD_DATABASE_SCHEMA"] = f"e2e_{secrets.token_hex(4)}"
        os.environ["SEGMAD_REPORT_DIR"] = str(report)
        if config.finetune_max_steps:
            os.environ["SEGMAD_FINETUNE_MAX_STEPS"] = str(config.finetune_max_steps)
        stack.down(grace_s=2)
        shutil.rmtree(stack.root, ignore_errors=True)  # a fresh stack: empty store, broker and schema
    tiers = tuple(t for t in TIERS if not (args.no_torchserve and t == "torchserve"))
    try:
        if not args.running:
            env = stack.up(say, tiers)
        os.environ.update(env)
        ports = bootstrap.build(settings_module.load())
        try:
            measures = Measures(ports, config, train_world, wild_world, progress=not args.quiet)
            result = run_over_services(ports, measures, zoo, stack.service("labelling").address,
                                       args.timeout, progress=not args.quiet, say=say)
            summary = summarize(result)
            summary["description"] = summary["description"].replace("Run on the synthetic world",
                                                                    "Run over the local stack")
            summary["timings_seconds"]["total"] = time.perf_counter() - started
            write_report(report, summary, figures(result, summary, measures.galleries(result)))
        finally:
            ports.close()
        if args.compare:
            comparison = compare(result, _embedded(config, zoo, train_world, wild_world, args.quiet))
            (report / "comparison.json").write_text(json.dumps(comparison, indent=2) + "\n")
            say(f"embedded comparison: {'agrees' if comparison['agree'] else 'DIFFERS'} "
                f"({report / 'comparison.json'})")
    finally:
        if not args.keep_stack and not args.running:
            stack.down(say, grace_s=5)
            _drop_schema(os.environ.get("SEGMAD_DATABASE_URL", ""), os.environ["SEGMAD_DATABASE_SCHEMA"])
    _print_headline(summary, report)
    return 0 if not args.compare or comparison["agree"] else 1


def _drop_schema(url: str, schema: str) -> None:
    """The private stack's catalog schema is throwaway, like the rest of its data."""
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


def _embedded(config, zoo, train_world, wild_world, quiet):
    """The embedded demo's run on the same seed and pool, in a throwaway folder."""
    import tempfile

    from segmad import bootstrap, settings as settings_module
    from segmad.demo.run import run_embedded
    from segmad.trainer.training import finetune_config
    from segmad.simulation.measures import Measures

    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/catalog.db"
        ports = bootstrap.build(dataclasses.replace(
            settings_module.load(), data_dir=Path(tmp), database_url=database_url,
            database_schema="", blob_url=f"file://{tmp}/blobs", bus="memory", torchserve_url=""))
        try:
            measures = Measures(ports, config, train_world, wild_world, progress=not quiet)
            return run_embedded(ports, database_url, measures, zoo,
                                finetune_config(config.finetune, config.finetune_max_steps),
                                progress=not quiet, say=lambda line: None)
        finally:
            ports.close()


def _print_headline(summary: dict, report: Path) -> None:
    from segmad.report.checks import conclusions

    for c in conclusions(summary):
        print(f"{'✔' if c['holds'] else '✘'} {c['claim']}: {c['evidence']}")
    print(f"report: {report / 'index.html'}  ({summary['timings_seconds']['total']:.0f} s)", file=sys.stderr)
