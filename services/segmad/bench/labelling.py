"""`segmad bench labelling`: simulated annotators rating over HTTP against a gunicorn-served app."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--annotators N --items M --workers W --threads T --database-url URL --format text|json."""
    parser.add_argument("--annotators", type=int, default=20, help="concurrent simulated annotators")
    parser.add_argument("--items", type=int, default=100, help="images in the weak campaign (each rates all)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--database-url", default="", help="catalog URL (default: SQLite in a temp dir)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds each annotator pauses per image (0: rate as fast as the server answers)")
    parser.add_argument("--schema", default="", help="PostgreSQL schema to create and use (isolates runs)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    """Prepare a campaign, start the server, let the annotators rate, print latencies and throughput."""
    import tempfile
    from pathlib import Path

    from segmad.bench.labelling_load import prepare, rate_concurrently, running_server

    with tempfile.TemporaryDirectory(prefix="segmad-bench-labelling-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'catalog.db'}"
        campaign_id, tokens = prepare(url, Path(tmp) / "blobs", args.annotators, args.items, args.schema)
        with running_server(url, Path(tmp) / "blobs", args.workers, args.threads, args.schema) as base:
            figures = rate_concurrently(base, campaign_id, tokens, args.think)
    figures.update(annotators=args.annotators, items=args.items, server=(
        f"gunicorn gthread, {args.workers} workers x {args.threads} threads"),
        database=url.split(":", 1)[0])
    if args.format == "json":
        print(json.dumps(figures, indent=2))
    else:
        print(f"{figures['server']}, {figures['database']}, {args.annotators} annotators x {args.items} items, "
              f"think {args.think} s")
        for name in ("next_item", "submit_rating"):
            f = figures[name]
            print(f"{name:14s} p50 {f['p50_ms']:7.1f} ms   p95 {f['p95_ms']:7.1f} ms   max {f['max_ms']:7.1f} ms")
        print(f"ratings/s      {figures['ratings_per_second']:.1f}  ({figures['ratings']} ratings, "
              f"{figures['seconds']:.1f} s, {figures['errors']} errors)")
    return 0 if figures["errors"] == 0 else 1
