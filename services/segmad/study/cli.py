"""`segmad study`: does MAD beat cheaper selections? A grid measured against the synthetic world's truth."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from segmad.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from segmad.study.grid import SELECTORS, WORLDS, StudyConfig

    d = StudyConfig()
    parser.add_argument("--out", type=Path, default=Path("report/study"),
                        help="folder for study.json, index.html, study.md, figures and results.jsonl (default %(default)s)")
    parser.add_argument("--small", action="store_true", help="a grid of seconds: 2 seeds, budgets 4 and 8, |D| = 60 (tests)")
    parser.add_argument("--medium", action="store_true", help="3 seeds, budgets 25, 100, 400 (the README's run)")
    parser.add_argument("--seeds", type=_ints, help=f"world seeds, comma-separated (default {_csv(d.seeds)})")
    parser.add_argument("--budgets", type=_ints, help=f"n4 values of mad, entropy, random, worst (default {_csv(d.budgets)})")
    parser.add_argument("--ablation-budget", type=int, help=f"n4 of the ablations (default {d.ablation_budget})")
    parser.add_argument("--finetune-seeds", type=_ints, help=f"fine-tuning seeds per cell (default {_csv(d.finetune_seeds)})")
    parser.add_argument("--world", choices=WORLDS, help="default: today's pool; redundant: D repeats "
                                                        "pool-size/20 scenes as near-duplicates (default default)")
    parser.add_argument("--pool-size", type=int, help=f"|D| (default {d.pool_size})")
    parser.add_argument("--wild-size", type=int, help=f"|W| (default {d.wild_size})")
    parser.add_argument("--n3", type=int, help=f"heap size at n4 = 100; it grows in proportion with n4 (default {d.n3})")
    parser.add_argument("--annotators", type=int, help=f"simulated raters of each image of M (default {d.annotators})")
    parser.add_argument("--finetune", choices=["demo", "paper"], help=f"fine-tuning preset (default {d.finetune})")
    parser.add_argument("--finetune-max-steps", type=int, help="cap on fine-tuning steps per lr (default: the preset's)")
    parser.add_argument("--failure-threshold", type=float,
                        help=f"a true failure: in domain, v0 target mIoU below this (default {d.failure_threshold})")
    parser.add_argument("--lr", type=float, help="one initial lr instead of the preset's grid (half the time)")
    parser.add_argument("--s0-size", type=int, help="fine-tune with the first N images of S0 only (default: all)")
    parser.add_argument("--t0-size", type=int, help="pick the lr on the first N images of T0 only (default: all)")
    parser.add_argument("--selectors", type=lambda s: tuple(s.split(",")),
                        help=f"a subset of {','.join(SELECTORS)} (default all)")
    parser.add_argument("--zoo", type=Path, help="the zoo's folder (default $SEGMAD_DATA_DIR/zoo; trained if missing)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="parallel fine-tuning processes (default %(default)s, the CPU count)")
    parser.add_argument("--report-only", action="store_true",
                        help="fine-tune nothing: write the report of the cells measured so far")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def run(args: argparse.Namespace) -> int:
    from segmad import settings as settings_module
    from segmad.study import report
    from segmad.study.grid import MEDIUM, SMALL, StudyConfig
    from segmad.study.run import run_study

    if args.small and args.medium:
        raise InputError("--small and --medium are two presets: give one")
    fields = dict(SMALL if args.small else MEDIUM if args.medium else {})
    for name in ("seeds", "budgets", "ablation_budget", "finetune_seeds", "world", "pool_size", "wild_size", "n3",
                 "annotators", "failure_threshold", "finetune", "finetune_max_steps", "lr", "s0_size", "t0_size", "selectors"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    for name in ("pool_size", "wild_size", "finetune_max_steps", "s0_size", "t0_size"):
        if fields.get(name) is not None and fields[name] < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    try:
        config = StudyConfig(**fields)
    except ValueError as error:
        raise InputError(str(error)) from None
    if max(config.budgets + (config.ablation_budget,)) > config.pool_size:
        raise InputError(f"a budget exceeds |D| = {config.pool_size}")
    zoo_dir = args.zoo or settings_module.load().zoo_dir
    say = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr))
    doc = run_study(config, zoo_dir, args.out, args.workers, progress=not args.quiet, say=say,
                    report_only=args.report_only)
    index = report.write(args.out, doc)
    for aim in doc["aims"]:
        print(f"{report.mark(aim['holds'])} {aim['claim']}: {aim['evidence']}")
    print(f"study: {index}  ({sum(doc['timings_seconds'].values()) / 60:.1f} min; "
          f"{config.world} world)", file=sys.stderr)
    return 0


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None


def _csv(values) -> str:
    return ",".join(map(str, values))
