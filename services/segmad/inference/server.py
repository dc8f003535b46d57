"""`segmad serve inference`: the inference worker as a service (consumer group "inference")."""

from __future__ import annotations

from segmad import settings
from segmad.inference.handler import TOPICS, InferenceHandler, parse
from segmad.runtime.worker import serve_worker


def num_classes() -> int:
    """C for checkpoints whose metrics do not say (SEGMAD_NUM_CLASSES; default the synthetic world's 8)."""
    return settings.load().num_classes


def serve(host: str, port: int, workers: int = 1, threads: int = 1) -> int:
    """Consume images and round events with `workers` members until SIGTERM (`threads` is unused)."""
    C = num_classes()
    return serve_worker("inference", TOPICS, parse, lambda ports: InferenceHandler(ports, C), host, port,
                        members=workers)
