"""The TorchServe client packs several images per request, and falls back to one per request for a
handler that predates packs, over real HTTP to a small server that answers as TorchServe does."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from segmad.adapters.torchserve import ENTROPY_HEADER, TorchServeSegmenter
from segmad.codec import decode_png, encode_png, pack, unpack
from segmad.ports.segmenter import Encoded, ModelRef


class Server:
    """Answers /predictions/NAME/VERSION: each image's map is its red channel's top bit (so answers can be
    checked), entropy = image index in its request. `packs`: whether the 'handler' takes packs;
    `full`: how many pack requests get TorchServe's full-queue 503 first."""

    def __init__(self, packs: bool, full: int = 0):
        self.packs, self.full, self.requests, self.bodies = packs, full, [], []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                is_pack = body.startswith(b"SGMD")
                outer.requests.append("pack" if is_pack else "one")
                if is_pack and outer.full:
                    outer.full -= 1
                    return self._json(503, "Model \"m\" has no worker to serve inference request. Please use scale workers API to add workers.")
                if is_pack and not outer.packs:  # an old handler: the body is no image
                    return self._json(503, "Prediction failed")
                images = unpack(body) if is_pack else [body]
                outer.bodies += images
                maps = [encode_png(decode_png(b)[..., 0] >> 7) for b in images]
                self.send_response(200)
                answer = pack(maps) if is_pack else maps[0]
                self.send_header(ENTROPY_HEADER, ",".join(str(float(i)) for i in range(len(maps))))
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def _json(self, code, message):
                data = json.dumps({"code": code, "type": "ServiceUnavailableException", "message": message}).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.http.server_port}"

    def close(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(**kwargs) -> Server:
        servers.append(Server(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def images(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    return [rng.integers(0, 256, (h, 20 + i, 3), dtype=np.uint8) for i, h in enumerate(range(16, 16 + n))]


def expected(batch: list[np.ndarray]) -> list[np.ndarray]:
    return [image[..., 0] >> 7 for image in batch]


def test_images_travel_in_packs_of_the_configured_size_and_come_back_in_order(serve):
    server = serve(packs=True)
    client = TorchServeSegmenter(server.url, images_per_request=4)
    try:
        batch = images(10)
        [(maps, entropy), (other, _)] = client.predict_many([(ModelRef("m", "1"), batch), (ModelRef("n", "1"), batch[:3])])
        assert all(np.array_equal(a, b) for a, b in zip(maps, expected(batch))) and len(maps) == 10
        assert all(np.array_equal(a, b) for a, b in zip(other, expected(batch[:3])))
        assert entropy.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]  # each image's place in its pack
        assert sorted(server.requests) == ["pack"] * 4  # 4 + 4 + 2 images for m, 3 for n
    finally:
        client.close()


def test_an_image_read_from_the_store_is_sent_as_the_png_it_was_read_from(serve, monkeypatch):
    server = serve(packs=True)
    client = TorchServeSegmenter(server.url, images_per_request=4)
    try:
        batch = images(5)
        stored = [Encoded(image, _pillow_png(image)) for image in batch[:3]]  # not the bytes encode_png writes
        assert all(e.png != encode_png(e.pixels) for e in stored)
        encoded = []
        monkeypatch.setattr("segmad.adapters.torchserve.encode_png", lambda a: encoded.append(a) or encode_png(a))
        [(maps, _)] = client.predict_many([(ModelRef("m", "1"), [*stored, *batch[3:]])])
        assert all(np.array_equal(a, b) for a, b in zip(maps, expected(batch))) and isinstance(maps, list)
        assert len(server.bodies) == 5 and {e.png for e in stored} <= set(server.bodies)  # sent as stored
        assert len(encoded) == 2  # only the two plain arrays were encoded
    finally:
        client.close()


def _pillow_png(image: np.ndarray) -> bytes:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=9)
    return buffer.getvalue()


def test_a_handler_without_packs_gets_one_image_per_request_from_then_on(serve):
    server = serve(packs=False)
    client = TorchServeSegmenter(server.url, images_per_request=8)
    try:
        batch = images(5)
        maps, _ = client.predict_with_entropy("m", "1", batch)
        assert all(np.array_equal(a, b) for a, b in zip(maps, expected(batch)))
        assert server.requests == ["pack"] + ["one"] * 5
        server.requests.clear()
        maps, _ = client.predict_with_entropy("m", "1", batch)
        assert all(np.array_equal(a, b) for a, b in zip(maps, expected(batch)))
        assert server.requests == ["one"] * 5  # no pack is tried again
    finally:
        client.close()


def test_a_full_queue_does_not_stop_packs(serve):
    server = serve(packs=True, full=1)
    client = TorchServeSegmenter(server.url, images_per_request=8)
    try:
        batch = images(3)
        maps, _ = client.predict_with_entropy("m", "1", batch)  # the pack is refused: its images go one by one
        assert all(np.array_equal(a, b) for a, b in zip(maps, expected(batch)))
        server.requests.clear()
        client.predict_with_entropy("m", "1", batch)
        assert server.requests == ["pack"]  # the refusal was the queue's, not the handler's
    finally:
        client.close()
