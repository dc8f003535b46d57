"""`segmad stack up|status|down|measure`: the local stack of real servers, no Docker."""

from __future__ import annotations

import json

from segmad.errors import InputError
from segmad.stack.components import TIERS
from segmad.stack.local import DEFAULT_ROOT, INFRA_ONLY, Stack


def add_arguments(parser) -> None:
    """ACTION [--dir DIR] [--infra-only] [--format text|json]."""
    parser.add_argument("action", choices=["up", "status", "down", "measure"])
    parser.add_argument("--dir", default=str(DEFAULT_ROOT), help="the stack's folder (default: var/stack)")
    parser.add_argument("--infra-only", action="store_true",
                        help="up: only S3 and the broker (and PostgreSQL), without TorchServe and the segmad services")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="for status")


def run(args) -> int:
    """Do the action; status exits 1 when a server of the started tiers is not running."""
    stack = Stack(args.dir)
    if args.action != "up" and not (stack.root / "stack.json").exists():
        print(f"no stack in {stack.root}; `make up` starts one")
        return 1 if args.action == "status" else 0
    if args.action == "up":
        try:
            stack.up(say=print, tiers=INFRA_ONLY if args.infra_only else TIERS)
        except (RuntimeError, FileNotFoundError) as error:
            raise InputError(str(error)) from error
        print(f"settings for clients: set -a; . {stack.root / 'env'}; set +a")
        return 0
    if args.action == "down":
        stack.down(say=print)
        return 0
    if args.action == "measure":
        from segmad.stack.measure import measure

        env = stack.read_env()
        if not env:
            raise InputError(f"the stack in {stack.root} was never started; run `make up` first")
        print(json.dumps(measure(env), indent=2))
        return 0
    rows = stack.status()
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['name']:<12} {row['tier']:<11} {row['state']:<14} pid {row['pid'] or '-':<8} {row['address']}")
    return 0 if all(row["state"] in ("running", "skipped") for row in rows) else 1
