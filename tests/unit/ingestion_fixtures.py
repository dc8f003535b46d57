"""Shared fixtures of the ingestion tests: embedded ports and a corpus of good and bad image files made here."""

from __future__ import annotations

import contextlib
import io
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from segmad import bootstrap
from segmad.settings import Settings

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


@pytest.fixture
def ports(tmp_path):
    """Embedded ports on a fresh SQLite catalog, local blobs and the in-memory bus."""
    ports = bootstrap.build(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'c.db'}",
                                     blob_url=f"file://{tmp_path / 'blobs'}", bus="memory"))
    yield ports
    ports.close()


def encode(picture: Image.Image, format: str, **params) -> bytes:
    """The bytes of `picture` saved as `format`."""
    buffer = io.BytesIO()
    picture.save(buffer, format=format, **params)
    return buffer.getvalue()


def noise(width: int = 48, height: int = 40, seed: int = 0) -> Image.Image:
    """An RGB image of random pixels (so compressed files are long enough to cut)."""
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def halves(width: int, height: int, left=RED, right=BLUE) -> Image.Image:
    """An RGB image whose left half is `left` and right half `right`."""
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:, : width // 2], pixels[:, width // 2 :] = left, right
    return Image.fromarray(pixels)


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height RGB pixels but holds none: only a bomb check from the header refuses it."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def exif_rotated_jpeg() -> bytes:
    """A 64x32 JPEG, left half red, right half blue, whose EXIF says: rotate 90° clockwise to view (orientation 6)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(halves(64, 32), "JPEG", quality=95, exif=exif.tobytes())


def animated_gif() -> bytes:
    """Two frames of 40x40: red, then blue."""
    frames = [Image.new("RGB", (40, 40), RED), Image.new("RGB", (40, 40), BLUE)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def sixteen_bit_png(value: int) -> bytes:
    """A 40x40 16-bit grayscale PNG of one value."""
    return encode(Image.fromarray(np.full((40, 40), value, np.uint16)), "PNG")


def palette_png() -> bytes:
    """A 40x40 palette PNG: index 0 is red, index 1 blue, left half 0, right half 1."""
    picture = Image.fromarray(np.repeat([[0] * 20 + [1] * 20], 40, axis=0).astype(np.uint8), mode="P")
    picture.putpalette([*RED, *BLUE] + [0] * 762)
    return encode(picture, "PNG")


def rgba_png() -> bytes:
    """A 40x40 RGBA PNG: left half opaque red, right half fully transparent blue."""
    pixels = np.zeros((40, 40, 4), np.uint8)
    pixels[:, :20], pixels[:, 20:] = (*RED, 255), (*BLUE, 0)
    return encode(Image.fromarray(pixels, mode="RGBA"), "PNG")


def cmyk_jpeg() -> bytes:
    """A 40x40 CMYK JPEG of no ink at all (white)."""
    return encode(Image.new("CMYK", (40, 40), (0, 0, 0, 0)), "JPEG", quality=95)


def truncated(data: bytes) -> bytes:
    """The first two thirds of a file: the header is whole, the pixels are cut."""
    return data[: len(data) * 2 // 3]


def corrupt_png() -> bytes:
    """A PNG whose image data has one flipped byte (its CRC no longer matches)."""
    data = bytearray(encode(noise(), "PNG"))
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


# Every file of the bad-file corpus, by name.
CORPUS = {
    "truncated.jpg": lambda: truncated(encode(noise(), "JPEG")),
    "truncated.png": lambda: truncated(encode(noise(), "PNG")),
    "corrupt.png": corrupt_png,
    "empty.jpg": lambda: b"",
    "page.html": lambda: b"<!doctype html><html><body><img src='cat.jpg'></body></html>\n",
    "bomb.png": lambda: png_header(30_000, 30_000),
    "cmyk.jpg": cmyk_jpeg,
    "sixteen.png": lambda: sixteen_bit_png(32896),
    "palette.png": palette_png,
    "rgba.png": rgba_png,
    "animated.gif": animated_gif,
    "rotated.jpg": exif_rotated_jpeg,
}


class _QuietSite(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gives up (a size limit, a deadline on a drip) is what the tests do


@contextlib.contextmanager
def serve_pages(handler: type[BaseHTTPRequestHandler]):
    """A local HTTP server answering with `handler`, on a free port; its base URL. Stopped and joined after."""
    server = _QuietSite(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
