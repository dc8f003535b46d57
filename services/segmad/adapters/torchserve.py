"""The segmenter port over TorchServe: one inference request per image, sent concurrently.

SEGMAD_TORCHSERVE_URL is the inference endpoint, e.g. http://127.0.0.1:8080; the management
endpoint is the same host at port + 1 (TorchServe's 8080/8081 convention) unless the URL says
`?management=http://host:port`. Each request's body is a PNG of one image at its own size; the answer
is a PNG label map at that size, in the run's label space, and, in X-Segmad-Entropy, the image's mean
per-pixel softmax entropy (deploy/torchserve/segmad_handler.py). Concurrent requests let
TorchServe batch them server-side (batch_size / max_batch_delay at registration).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Sequence
from urllib.parse import parse_qs, urlparse, urlunparse

import numpy as np
import requests

from segmad.ports.segmenter import ModelRef, Segmenter, UnknownModel, as_answer
from segmad.adapters.torchserve_management import Management
from segmad.codec import decode_png, encode_png

ENTROPY_HEADER = "X-Segmad-Entropy"
# Requests in flight: enough to fill a server-side batch (8 by default) of three models at once, and
# well under TorchServe's per-model queue (job_queue_size, 100 by default; a full queue answers 503).
CONCURRENCY = 32


def split_url(url: str) -> tuple[str, str]:
    """(inference URL, management URL) of a SEGMAD_TORCHSERVE_URL."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or not parsed.port:
        raise ValueError("expected http://host:port[?management=http://host:port]")
    inference = urlunparse(parsed._replace(query="")).rstrip("/")
    management = parse_qs(parsed.query).get("management", [""])[0]
    default = urlunparse(parsed._replace(netloc=f"{parsed.hostname}:{parsed.port + 1}", path="", query=""))
    return inference, (management or default).rstrip("/")


class TorchServeSegmenter(Segmenter):
    """Models registered in a TorchServe; predictions over its inference API."""

    def __init__(self, url: str, concurrency: int = CONCURRENCY, timeout: float = 60.0):
        self.inference_url, management_url = split_url(url)
        self.management = Management(management_url, timeout)
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="torchserve")
        self._http = requests.Session()
        self._http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))

    def models(self) -> list[ModelRef]:
        return self.management.models()

    def predict(self, name: str, version: str, images):
        return self.predict_with_entropy(name, version, images)[0]

    def predict_with_entropy(self, name: str, version: str, images):
        return self.predict_many([(ModelRef(name, str(version)), images)])[0]

    def predict_many(self, requests: Sequence[tuple[ModelRef, np.ndarray | Sequence[np.ndarray]]]) -> list[tuple]:
        """Every image of every request in flight together, sent round-robin over the requests so that
        each model's queue on the server fills at once (each model has its own workers)."""
        for _, images in requests:
            for image in images:
                if image.ndim != 3 or image.shape[-1] != 3:
                    raise ValueError(f"expected images of shape (H, W, 3), got {image.shape}")
        longest = max((len(images) for _, images in requests), default=0)
        futures = {(r, i): self._pool.submit(self._one, ref.name, str(ref.version), images[i])
                   for i in range(longest) for r, (ref, images) in enumerate(requests) if i < len(images)}
        answers = []
        for r, (_, images) in enumerate(requests):
            got = [futures[r, i].result() for i in range(len(images))]
            for i, (label_map, _) in enumerate(got):
                if label_map.shape != images[i].shape[:2]:
                    raise ValueError(f"TorchServe answered a {label_map.shape} map for a {images[i].shape[:2]} "
                                     "image: its handler predates native-size maps (republish the model)")
            answers.append((as_answer(images, [m for m, _ in got]), np.array([e for _, e in got], dtype=np.float64)))
        return answers

    def _one(self, name: str, version: str, image: np.ndarray) -> tuple[np.ndarray, float]:
        response = self._http.post(f"{self.inference_url}/predictions/{name}/{version}", data=encode_png(image),
                                   headers={"Content-Type": "image/png"}, timeout=self.timeout)
        if response.status_code == 404:
            raise UnknownModel(f"{name} version {version}")
        response.raise_for_status()
        return decode_png(response.content), float(response.headers[ENTROPY_HEADER])

    def close(self) -> None:
        """Stop the request threads."""
        self._pool.shutdown(wait=False)
