"""Fetch one image over http(s) within a total deadline and a size limit; failures become rejections."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import requests
import urllib3

from segmad.ingestion.normalise import Rejected

_CHUNK = 64 * 1024


def _check_url(url: str) -> None:
    try:
        parsed = urlparse(url)
        host, _ = parsed.hostname, parsed.port
    except ValueError as error:  # "http://[::1", a port over 65535: urlparse itself refuses them
        raise Rejected("bad-url", f"{url!r}: {error}") from None
    if parsed.scheme not in ("http", "https") or not host:
        raise Rejected("bad-url", f"{url!r} is not an http(s) URL")


def _read_body(reply: requests.Response, max_bytes: int, deadline: float, timeout_s: float) -> bytes:
    # read1 returns what one read from the socket gives, so a server that drips bytes meets the
    # deadline between drips; the socket's own timeout bounds a wait for the next drip.
    raw, body = reply.raw, bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Rejected("fetch-failed", f"took over {timeout_s:g} s")
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(remaining)
        chunk = raw.read1(_CHUNK, decode_content=True)  # decompressed, so a gzip bomb meets the limit too
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise Rejected("file-too-large", f"over {max_bytes} bytes")


def fetch(url: str, max_bytes: int, timeout_s: float = 10.0, session: requests.Session | None = None) -> bytes:
    """The body at `url`; Rejected if it is not http(s), fails, is over max_bytes or takes over timeout_s in all."""
    _check_url(url)
    deadline = time.monotonic() + timeout_s
    get = (session or requests).get
    try:
        with get(url, stream=True, timeout=(timeout_s, timeout_s), headers={"User-Agent": "segmad-ingest"}) as reply:
            if reply.status_code != 200:
                raise Rejected("fetch-failed", f"HTTP {reply.status_code}")
            declared = reply.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise Rejected("file-too-large", f"{declared} bytes is over {max_bytes}")
            return _read_body(reply, max_bytes, deadline, timeout_s)
    except requests.RequestException as error:
        raise Rejected("fetch-failed", f"{type(error).__name__}: {error}") from None
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):  # the socket timeout set for the deadline
        raise Rejected("fetch-failed", f"took over {timeout_s:g} s") from None
    except (urllib3.exceptions.HTTPError, OSError) as error:  # raised by read1, unwrapped by requests
        raise Rejected("fetch-failed", f"{type(error).__name__}: {error}") from None
    except (ValueError, UnicodeError) as error:  # a URL that urlparse accepts but the HTTP stack does not
        raise Rejected("bad-url", f"{url!r}: {type(error).__name__}: {error}") from None
