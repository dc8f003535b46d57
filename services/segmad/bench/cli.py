"""`segmad bench NAME`: one benchmark per module, each with add_arguments(parser) and run(args) -> int."""

from __future__ import annotations

import argparse
import importlib

# name -> (module, one-line help). Every module is imported to build `segmad bench`'s arguments,
# so a benchmark imports heavy things (torch, servers) inside its run(), not at module level.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "select": ("segmad.bench.select", "discrepancy cost per pair and end-to-end `segmad select` time"),
    "labelling": ("segmad.bench.labelling", "p50/p95 latency and ratings/s of 20 annotators over HTTP"),
    "pipeline": ("segmad.bench.pipeline", "mining images/s over the local stack vs in-process, DB writes per image"),
    "stream": ("segmad.bench.stream", "discrepancy handler over a long stream: images/s, RSS, heap writes per image"),
    "cards": ("segmad.bench.cards", "in-process images/s of the zoo through model cards vs its fixed path"),
    "ingest": ("segmad.bench.ingest", "`segmad ingest` images/s into the local stack vs the embedded store"),
    "inference": ("segmad.bench.inference", "images/s of one model in process, in TorchServe's handler and through TorchServe"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One sub-command per benchmark."""
    sub = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for name, (module, help_text) in BENCHMARKS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(benchmark_module=module)
        importlib.import_module(module).add_arguments(command)


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark."""
    return importlib.import_module(args.benchmark_module).run(args)
