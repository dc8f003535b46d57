"""`segmad ingest SRC`: add images from a folder, a file, a file of URLs or an S3 prefix to the pool."""

from __future__ import annotations

import json
import sys
from dataclasses import fields

from segmad import bootstrap
from segmad.errors import InputError
from segmad.ingestion.batch import Summary, ingest_all
from segmad.ingestion.bucket import open_existing_bucket
from segmad.ingestion.limits import Limits, checked_limits, env_name, env_values
from segmad.ingestion.sources import inputs

_FIELDS = tuple(f.name for f in fields(Limits))


def _option(field: str) -> str:
    """The option that sets a limit: min_side -> --min-side."""
    return f"--{field.replace('_', '-')}"


def add_arguments(parser) -> None:
    """SRC [--min-side N] [--max-side N] [--max-pixels N] [--max-bytes N] [--timeout S] [--format F]."""
    parser.add_argument("source", metavar="SRC",
                        help="a folder (recursive), an image file, a text file of http(s) URLs, or s3://bucket/prefix")
    for name in _FIELDS:
        parser.add_argument(_option(name), dest=name, type=int, default=None,
                            help=f"default {getattr(Limits(), name)} (or {env_name(name)})")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds in all to fetch one URL, body included (default 10)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _limits(args) -> Limits:
    """SEGMAD_INGEST_* overridden by the options; InputError naming the option or variable the bad value came from."""
    try:
        from_env = env_values()
        given = {name: getattr(args, name) for name in _FIELDS if getattr(args, name) is not None}

        def named(field: str) -> str:  # a default is named by its option: that is where the user would change it
            return env_name(field) if field in from_env and field not in given else _option(field)

        return checked_limits({**from_env, **given}, named)
    except ValueError as error:
        raise InputError(str(error)) from None


def _print_text(summary: Summary) -> None:
    rejected = sum(summary.rejected_by_reason.values())
    print(f"ingested {summary.ingested}, duplicates {summary.duplicates}, rejected {rejected}")
    for code, count in sorted(summary.rejected_by_reason.items()):
        print(f"  {code}: {count}")
    for source, reason in summary.rejections:
        print(f"rejected {source}: {reason}", file=sys.stderr)


def run(args) -> int:
    """Ingest everything SRC names and print the summary; 1 if inputs failed and none was ingested or known."""
    if not args.timeout > 0:
        raise InputError("--timeout must be a positive number of seconds")
    limits = _limits(args)
    ports = bootstrap.build()
    try:
        items = inputs(args.source, limits, args.timeout,
                       open_bucket=lambda name: open_existing_bucket(
                           name, lambda url: bootstrap.blob_store(url, named_by="SRC")))
        summary = ingest_all(ports, items, limits, progress=not args.no_progress and sys.stderr.isatty())
    finally:
        ports.close()
    if args.format == "json":
        print(json.dumps(summary.to_json(), indent=2))
    else:
        _print_text(summary)
    nothing_taken = summary.ingested + summary.duplicates == 0
    return 1 if nothing_taken and summary.rejected_by_reason else 0
