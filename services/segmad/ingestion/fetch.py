"""Fetch one image over http(s) with timeouts and a size limit; failures become rejections."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import requests

from segmad.ingestion.normalise import Rejected

_CHUNK = 64 * 1024


def fetch(url: str, max_bytes: int, timeout_s: float = 10.0, session: requests.Session | None = None) -> bytes:
    """The body at `url`; Rejected if it is not http(s), fails, is over max_bytes or takes over 3 timeouts."""
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise Rejected("bad-url", f"{url!r} is not an http(s) URL")
    # The read timeout bounds each wait for data; the deadline bounds a server that drips bytes.
    deadline = time.monotonic() + 3 * timeout_s
    get = (session or requests).get
    try:
        with get(url, stream=True, timeout=(timeout_s, timeout_s), headers={"User-Agent": "segmad-ingest"}) as reply:
            if reply.status_code != 200:
                raise Rejected("fetch-failed", f"HTTP {reply.status_code}")
            declared = reply.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise Rejected("file-too-large", f"{declared} bytes is over {max_bytes}")
            body = bytearray()
            for chunk in reply.iter_content(_CHUNK):  # decompressed, so a gzip bomb meets the limit too
                body += chunk
                if len(body) > max_bytes:
                    raise Rejected("file-too-large", f"over {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise Rejected("fetch-failed", f"took over {3 * timeout_s:g} s")
            return bytes(body)
    except requests.RequestException as error:
        raise Rejected("fetch-failed", f"{type(error).__name__}: {error}") from None
