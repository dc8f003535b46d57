"""No input stops a run: a folder and a URL list full of bad inputs, made here, beside good images.

For every bad input the run finishes, prints its summary, records a reason (or, where the input
is fine after all, ingests it), ingests the good images of the same run, and stores no blob
without its catalog row.
"""

import contextlib
import io
import json
import os
import socket
import time
from http.server import BaseHTTPRequestHandler

import pytest
from ingestion_fixtures import (serve_pages, animated_gif, cmyk_jpeg, corrupt_png, encode, exif_rotated_jpeg, noise, png_header,
                                sixteen_bit_png, truncated)

from segmad import bootstrap
from segmad.cli import main
from segmad.settings import Settings

AS_ROOT = os.geteuid() == 0
INGESTED = "ingested"  # the expectation for an input that is odd but a good image


def good(seed: int) -> bytes:
    return encode(noise(seed=seed), "PNG")


def corrupt_exif_jpeg() -> bytes:
    # An APP1 segment that says Exif and then holds nonsense instead of a TIFF header.
    return encode(noise(seed=40), "JPEG", exif=b"Exif\x00\x00" + b"\xde\xad\xbe\xef" * 8)


# name -> (bytes, expected outcome: INGESTED or a rejection code)
FILES = {
    "good-1.png": (lambda: good(1), INGESTED),
    "good-2.jpg": (lambda: encode(noise(seed=2), "JPEG"), INGESTED),
    "empty.png": (lambda: b"", "empty"),
    "truncated.png": (lambda: truncated(good(3)), "corrupt"),
    "truncated.jpg": (lambda: truncated(encode(noise(seed=4), "JPEG")), "corrupt"),
    "corrupt-crc.png": (corrupt_png, "corrupt"),
    "text.png": (lambda: b"this is not a picture\n", "not-an-image"),
    "page.jpg": (lambda: b"<!doctype html><html><body>404</body></html>\n", "not-an-image"),
    "signature-only.png": (lambda: b"\x89PNG\r\n\x1a\n", "not-an-image"),
    "random.bmp": (lambda: os.urandom(2048), "not-an-image"),
    "zero-sized.png": (lambda: png_header(0, 0), "not-an-image"),
    "bomb.png": (lambda: png_header(30_000, 30_000), "decompression-bomb"),
    "too-long-a-side.png": (lambda: png_header(20_000, 40), "too-large"),
    "too-small.png": (lambda: encode(noise(10, 10), "PNG"), "too-small"),
    "jpeg-named.png": (lambda: encode(noise(seed=5), "JPEG"), INGESTED),  # the content decides, not the name
    "sixteen-bit.png": (lambda: sixteen_bit_png(1234), INGESTED),
    "cmyk.jpg": (cmyk_jpeg, INGESTED),
    "animated.gif": (animated_gif, INGESTED),
    "rotated.jpg": (exif_rotated_jpeg, INGESTED),
    "corrupt-exif.jpg": (corrupt_exif_jpeg, INGESTED),  # the EXIF is ignored, the pixels are fine
    "same-as-good-1.png": (lambda: good(1), "duplicate"),
    "folder.png/inside.png": (lambda: good(6), INGESTED),  # a folder named like an image is walked
    b"not-utf8-\xff\xfe.png": (lambda: good(7), INGESTED),
    "new\nline.png": (lambda: good(8), INGESTED),
    "tab\tand\rreturn.png": (lambda: good(9), INGESTED),
}


def make_folder(folder, outside):
    """The bad-input folder; returns name -> expected outcome, including the links and special files."""
    expected = {}
    for name, (make, outcome) in FILES.items():
        path = os.path.join(os.fsencode(folder), os.fsencode(name))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.write(make())
        expected[os.fsdecode(name)] = outcome
    os.mkdir(folder / "empty-folder.jpg")
    (outside / "elsewhere.png").write_bytes(good(10))
    (outside / "dir").mkdir()
    links = {"link-outside.png": outside / "elsewhere.png", "link-to-system-file.png": "/etc/passwd",
             "link-to-folder-outside": outside / "dir", "loop.png": folder / "loop.png",
             "loop-a.png": folder / "loop-b.png", "loop-b.png": folder / "loop-a.png",
             "dangling.png": folder / "gone.png", "link-inside.png": folder / "good-1.png",
             "link-to-folder-inside": folder / "folder.png", "link-to-dev-null.png": "/dev/null"}
    for name, target in links.items():
        (folder / name).symlink_to(target)
    expected.update({"link-outside.png": "link-outside", "link-to-system-file.png": "link-outside",
                     "link-to-folder-outside": "link-outside", "loop.png": "symlink-loop",
                     "loop-a.png": "symlink-loop", "loop-b.png": "symlink-loop", "dangling.png": "dangling-symlink",
                     "link-inside.png": "duplicate", "link-to-folder-inside": "not-a-file",
                     "link-to-dev-null.png": "link-outside"})
    os.mkfifo(folder / "fifo.png")
    expected["fifo.png"] = "not-a-file"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(folder / "socket.png"))
    unix.close()
    expected["socket.png"] = "not-a-file"
    if not AS_ROOT:  # root reads a file whatever its mode says
        (folder / "unreadable.png").write_bytes(good(11))
        (folder / "unreadable.png").chmod(0)
        expected["unreadable.png"] = "unreadable"
    return expected


class Pages(BaseHTTPRequestHandler):
    """/ok.png, /page.html, /drip.png (a byte every 0.2 s), /loop (redirects to itself); else 404."""

    def do_GET(self):
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
            return
        body = {"/ok.png": good(20), "/page.html": b"<html></html>", "/drip.png": good(21)}.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        if self.path == "/drip.png":
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(0.2)
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass



@pytest.fixture(scope="module")
def site():
    with serve_pages(Pages) as url:
        yield url


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def url_lines(site) -> dict[str, str]:
    """Each line of the URL list -> expected outcome."""
    return {
        f"{site}/ok.png": INGESTED,
        "http://[::1": "bad-url",
        "http://[::1]:99999/x.png": "bad-url",
        "http://": "bad-url",
        "ftp://example.org/a.png": "bad-url",
        "file:///etc/passwd": "bad-url",
        "not a url at all": "bad-url",
        f"http://127.0.0.1:{closed_port()}/a.png": "fetch-failed",
        f"{site}/missing.png": "fetch-failed",
        f"{site}/page.html": "not-an-image",
        f"{site}/drip.png": "fetch-failed",
        f"{site}/loop": "fetch-failed",
        "http://exa mple.invalid/a.png": "fetch-failed",
    }


def ingest_json(source, *args):
    """(exit status, JSON summary) of `segmad ingest SOURCE` in this process."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["ingest", str(source), "--format", "json", "--no-progress", *args])
    return status, json.loads(out.getvalue())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as env:
        for name in ("SEGMAD_DATABASE_URL", "DATABASE_URL", "SEGMAD_BLOB_URL", "SEGMAD_BUS"):
            env.delenv(name, raising=False)
        env.setenv("SEGMAD_DATA_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory, data):
    folder, outside = tmp_path_factory.mktemp("corpus"), tmp_path_factory.mktemp("outside")
    expected = make_folder(folder, outside)
    status, summary = ingest_json(folder)
    return folder, expected, status, summary


@pytest.fixture(scope="module")
def url_run(tmp_path_factory, data, site):
    expected = url_lines(site)
    urls = tmp_path_factory.mktemp("urls") / "urls.txt"
    urls.write_text("".join(f"{line}\n" for line in expected))
    started = time.monotonic()
    status, summary = ingest_json(urls, "--timeout", "1")
    return expected, status, summary, time.monotonic() - started


def reasons(summary) -> dict[str, str]:
    return {r["source"]: r["reason"].split(":", 1)[0] for r in summary["rejections"]}


def catalogued_sources(data) -> set[str]:
    ports = bootstrap.build(Settings())
    try:
        return {ports.catalog.image(i).source for i in ports.catalog.image_ids()}
    finally:
        ports.close()


def escaped(folder, name: str) -> str:
    text = os.fsencode(os.path.join(folder, name)).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def test_a_folder_of_bad_inputs_finishes_with_a_summary_and_exit_0(folder_run):
    _, expected, status, summary = folder_run
    assert status == 0
    assert summary["ingested"] == sum(outcome == INGESTED for outcome in expected.values())
    assert summary["duplicates"] == sum(outcome == "duplicate" for outcome in expected.values())


@pytest.mark.parametrize("name", [os.fsdecode(n) for n, (_, o) in FILES.items() if o not in (INGESTED, "duplicate")]
                         + ["link-outside.png", "link-to-system-file.png", "link-to-folder-outside", "loop.png",
                            "loop-a.png", "dangling.png", "link-to-folder-inside", "link-to-dev-null.png",
                            "fifo.png", "socket.png"])
def test_each_bad_file_is_recorded_with_its_reason(folder_run, name):
    folder, expected, _, summary = folder_run
    assert reasons(summary).get(escaped(folder, name)) == expected[name]


@pytest.mark.skipif(AS_ROOT, reason="root reads a file whatever its mode says")
def test_an_unreadable_file_is_recorded(folder_run):
    folder, _, _, summary = folder_run
    assert reasons(summary)[escaped(folder, "unreadable.png")] == "unreadable"


@pytest.mark.parametrize("name", [os.fsdecode(n) for n, (_, o) in FILES.items() if o == INGESTED])
def test_each_good_or_odd_but_sound_image_is_catalogued(folder_run, data, name):
    folder = folder_run[0]
    assert escaped(folder, name) in catalogued_sources(data)


def test_no_link_out_of_the_folder_is_read(folder_run, data):
    assert not any("outside" in source or source.startswith("/etc") for source in catalogued_sources(data))


def test_nothing_is_stored_without_its_catalog_row(folder_run, url_run, data):
    ports = bootstrap.build(Settings())
    try:
        catalogued = {ports.catalog.image(i).blob_key for i in ports.catalog.image_ids()}
        assert set(ports.blobs.keys()) == catalogued
    finally:
        ports.close()


def test_a_second_run_over_the_folder_is_the_same_and_finishes(folder_run):
    folder, _, _, first = folder_run
    status, again = ingest_json(folder)
    assert status == 0 and again["ingested"] == 0
    assert again["duplicates"] == first["ingested"] + first["duplicates"]
    assert reasons(again) == reasons(first)


def test_a_url_list_of_bad_lines_finishes_with_a_summary_and_exit_0(url_run):
    _, status, summary, _ = url_run
    assert status == 0 and summary["ingested"] == 1


@pytest.mark.parametrize("index", range(1, 13))
def test_each_bad_url_is_recorded_with_its_reason(url_run, index):
    expected, _, summary, _ = url_run
    line = list(expected)[index]
    assert reasons(summary).get(line) == expected[line]


def test_the_url_run_holds_to_its_deadline(url_run):
    # The drip alone would take ~2 minutes; --timeout 1 bounds it, and every other URL answers at once.
    assert url_run[3] < 10
