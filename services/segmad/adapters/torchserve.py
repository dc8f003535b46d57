"""The segmenter port over TorchServe: a few images per inference request, requests sent concurrently.

SEGMAD_TORCHSERVE_URL is the inference endpoint, e.g. http://127.0.0.1:8080; the management
endpoint is the same host at port + 1 (TorchServe's 8080/8081 convention) unless the URL says
`?management=http://host:port`. A request's body is a pack of up to IMAGES_PER_REQUEST PNGs, each
image at its own size (deploy/torchserve/segmad_handler.py: b"SGMD", a count, then length-prefixed
bytes); the answer is the pack of their PNG label maps at those sizes, in the run's label space, and,
in X-Segmad-Entropy, each image's mean per-pixel softmax entropy, comma-separated. Per request,
TorchServe's own work (its frontend, the queue, the worker's framing and metrics) costs about as
much as a small model's prediction, so packing cuts what the service adds per image. Concurrent
requests let TorchServe batch them server-side too (batch_size / max_batch_delay at registration).
A model whose handler answers a pack with an error but takes single images (an archive of an older
segmad) is sent one image per request from then on.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Sequence
from urllib.parse import parse_qs, urlparse, urlunparse

import numpy as np
import requests

from segmad.ports.segmenter import Encoded, ModelRef, Segmenter, UnknownModel, as_answer, pixels_of
from segmad.adapters.torchserve_management import Management
from segmad.codec import decode_png, encode_png, pack, unpack

ENTROPY_HEADER = "X-Segmad-Entropy"
# Images per request: 8 cut the stack's per-image overhead at 64 px most in `segmad bench pipeline`,
# and a request stays small (8 images of 512 px are a few MB of PNG).
IMAGES_PER_REQUEST = 8
PREDICTION_FAILED = "Prediction failed"  # TorchServe's message (status 503) when a handler raises
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

    def __init__(self, url: str, concurrency: int = CONCURRENCY, timeout: float = 60.0,
                 images_per_request: int = IMAGES_PER_REQUEST):
        self.inference_url, management_url = split_url(url)
        self.images_per_request = max(1, images_per_request)
        self._single: set[tuple[str, str]] = set()  # models whose handler takes one image per request
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

    def predict_many(self, requests: Sequence[tuple[ModelRef, np.ndarray | Sequence[np.ndarray | Encoded]]]) -> list[tuple]:
        """Every image of every request in flight together, sent round-robin over the requests so that
        each model's queue on the server fills at once (each model has its own workers). An Encoded image
        is sent as the PNG it was read from; an array is encoded once for every model that predicts it."""
        given = [images for _, images in requests]  # what each answer is shaped like (as_answer)
        requests = [(ref, list(images)) for ref, images in requests]  # the objects held: their ids stay theirs
        for _, images in requests:
            for image in pixels_of(images):
                if image.ndim != 3 or image.shape[-1] != 3:
                    raise ValueError(f"expected images of shape (H, W, 3), got {image.shape}")
        k = self.images_per_request
        distinct = list({id(image): image for _, images in requests for image in images}.values())
        encode = [image for image in distinct if not isinstance(image, Encoded)]
        body = {id(image): image.png for image in distinct if isinstance(image, Encoded)}
        body.update(zip(map(id, encode), self._pool.map(encode_png, encode)))
        longest = max((len(images) for _, images in requests), default=0)
        futures = {(r, i): self._pool.submit(self._some, ref.name, str(ref.version), [body[id(x)] for x in images[i:i + k]])
                   for i in range(0, longest, k) for r, (ref, images) in enumerate(requests) if i < len(images)}
        answers = []
        for r, (_, images) in enumerate(requests):
            got = [answer for i in range(0, len(images), k) for answer in futures[r, i].result()]
            for (label_map, _), image in zip(got, pixels_of(images)):
                if label_map.shape != image.shape[:2]:
                    raise ValueError(f"TorchServe answered a {label_map.shape} map for a {image.shape[:2]} "
                                     "image: its handler predates native-size maps (republish the model)")
            answers.append((as_answer(given[r], [m for m, _ in got]), np.array([e for _, e in got], dtype=np.float64)))
        return answers

    def _some(self, name: str, version: str, images: list[bytes]) -> list[tuple[np.ndarray, float]]:
        """(label map, entropy) of each PNG-encoded image, in one request (a pack) unless the model takes only one."""
        if len(images) == 1 or (name, version) in self._single:
            return [self._one(name, version, image) for image in images]
        response = self._http.post(f"{self.inference_url}/predictions/{name}/{version}",
                                   data=pack(images),
                                   headers={"Content-Type": "application/octet-stream"}, timeout=self.timeout)
        if response.status_code == 404:
            raise UnknownModel(f"{name} version {version}")
        if response.status_code >= 400:
            # One image per request: raises what a single image's request raises (a model that fails on
            # one of them, a full queue). If every one goes through where the pack's handler failed, the
            # handler predates packs: that model gets single images from now on.
            answers = [self._one(name, version, image) for image in images]
            if PREDICTION_FAILED in response.text:
                self._single.add((name, version))
            return answers
        maps = unpack(response.content)
        entropies = response.headers[ENTROPY_HEADER].split(",")
        if len(maps) != len(images) or len(entropies) != len(images):
            raise ValueError(f"TorchServe answered {len(maps)} maps and {len(entropies)} entropies for {len(images)} images")
        return [(decode_png(m), float(e)) for m, e in zip(maps, entropies)]

    def _one(self, name: str, version: str, image: bytes) -> tuple[np.ndarray, float]:
        response = self._http.post(f"{self.inference_url}/predictions/{name}/{version}", data=image,
                                   headers={"Content-Type": "image/png"}, timeout=self.timeout)
        if response.status_code == 404:
            raise UnknownModel(f"{name} version {version}")
        response.raise_for_status()
        return decode_png(response.content), float(response.headers[ENTROPY_HEADER])

    def close(self) -> None:
        """Stop the request threads."""
        self._pool.shutdown(wait=False)
