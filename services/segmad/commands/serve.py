"""`segmad serve SERVICE [--port P]`: run one of segmad's services in the foreground."""

from __future__ import annotations

import importlib

from segmad.runtime.services import DEFAULT_WORKERS, SERVICES

def add_arguments(parser) -> None:
    """SERVICE [--host H] [--port P] [--workers N] [--threads T]."""
    parser.add_argument("service", choices=sorted(SERVICES))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=None,
                        help="processes, or a worker's consumer members (default 2; discrepancy and trainer 1)")
    parser.add_argument("--threads", type=int, default=8, help="threads per process")


def run(args) -> int:
    """Start the chosen service."""
    module = importlib.import_module(SERVICES[args.service])
    workers = args.workers if args.workers is not None else DEFAULT_WORKERS.get(args.service, 2)
    return module.serve(args.host, args.port, workers=workers, threads=args.threads)
