"""`segmad ingest --timeout S` on a URL is a deadline for the whole fetch: a server that drips its status line
or its headers a byte at a time (each byte well within any socket timeout) is cut off at S seconds too."""

import contextlib
import io
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from ingestion_fixtures import encode, halves, serve_pages

from segmad.cli import main
from segmad.ingestion.fetch import fetch
from segmad.ingestion.normalise import Rejected

PNG = encode(halves(40, 40), "PNG")
DRIP_S = 0.3


class Drips(BaseHTTPRequestHandler):
    """/status.png and /headers.png drip their answer's head a byte every 0.3 s (~10 s in all);
    /redirect sends to /headers.png; /late.png answers after 0.5 s; /ok.png at once."""

    protocol_version = "HTTP/1.0"

    def do_GET(self):
        if self.path == "/redirect":
            self.wfile.write(b"HTTP/1.0 302 Found\r\nLocation: /headers.png\r\nContent-Length: 0\r\n\r\n")
            return
        head = f"HTTP/1.0 200 OK\r\nContent-Type: image/png\r\nContent-Length: {len(PNG)}\r\n\r\n".encode()
        if self.path in ("/status.png", "/headers.png"):
            start = 0 if self.path == "/status.png" else head.index(b"\r\n") + 2
            self.wfile.write(head[:start])
            for i in range(start, len(head)):
                self.wfile.write(head[i:i + 1])
                self.wfile.flush()
                time.sleep(DRIP_S)
        elif self.path == "/late.png":
            time.sleep(0.5)
            self.wfile.write(head)
        elif self.path == "/ok.png":
            self.wfile.write(head)
        else:
            self.wfile.write(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(PNG)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    with serve_pages(Drips) as url:
        yield url


@pytest.mark.parametrize("path", ["/status.png", "/headers.png", "/redirect"])
def test_a_server_that_drips_the_head_of_its_answer_is_cut_off_at_the_deadline(site, path):
    started = time.monotonic()
    with pytest.raises(Rejected, match=r"^fetch-failed: took over 1 s$"):
        fetch(f"{site}{path}", max_bytes=10_000, timeout_s=1.0)
    assert time.monotonic() - started < 2.0


def test_an_answer_that_comes_late_but_within_the_deadline_is_fetched_whole(site):
    assert fetch(f"{site}/late.png", max_bytes=10_000, timeout_s=3.0) == PNG


def test_a_fetch_leaves_no_deadline_thread_behind(site):
    fetch(f"{site}/ok.png", max_bytes=10_000, timeout_s=5.0)
    with pytest.raises(Rejected):
        fetch(f"{site}/headers.png", max_bytes=10_000, timeout_s=0.5)
    assert [t for t in threading.enumerate() if isinstance(t, threading.Timer)] == []


@pytest.fixture
def catalog(tmp_path, monkeypatch):
    for name in ("SEGMAD_DATABASE_URL", "DATABASE_URL", "SEGMAD_BLOB_URL", "SEGMAD_BUS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEGMAD_DATA_DIR", str(tmp_path))


def test_ingest_records_the_deadline_as_the_reason_and_goes_on_with_the_next_url(site, catalog, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/headers.png\n{site}/ok.png\n")
    out = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out):
        status = main(["ingest", str(urls), "--timeout", "1", "--format", "json", "--no-progress"])
    took = time.monotonic() - started
    summary = json.loads(out.getvalue())
    assert status == 0 and summary["ingested"] == 1
    assert [(r["source"], r["reason"]) for r in summary["rejections"]] == [
        (f"{site}/headers.png", "fetch-failed: took over 1 s")]
    assert took < 3.0


@pytest.fixture
def slow_tls_server():
    """A TCP server on which a TLS handshake never ends: it answers a client's hello a byte every 0.3 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip():
        connection, _ = listener.accept()
        with connection:
            hello = b"\x16\x03\x03\x00\x40" + b"\x02" * 0x40  # the start of a ServerHello record
            for byte in hello:
                if stop.wait(DRIP_S):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:  # the client gave up
                    return

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    listener.close()


def test_a_tls_handshake_that_drips_is_cut_off_at_the_deadline(slow_tls_server):
    started = time.monotonic()
    with pytest.raises(Rejected, match=r"^fetch-failed: took over 1 s$"):
        fetch(f"{slow_tls_server}/a.png", max_bytes=10_000, timeout_s=1.0)
    assert time.monotonic() - started < 2.0
