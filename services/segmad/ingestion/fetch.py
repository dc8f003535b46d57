"""Fetch one image over http(s) within a total deadline and a size limit; failures become rejections."""

from __future__ import annotations

import socket
import threading
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


class _Deadline:
    """Shuts down every connection of one fetch once `timeout_s` have passed, whatever it is waiting for.

    A socket timeout bounds one wait for bytes, so a server that drips its status line, its headers or
    a TLS handshake a byte at a time is never timed out by it; shutting the socket down wakes the read
    wherever it blocks. It watches a duplicate of each socket: TLS takes over the original object.
    """

    def __init__(self, timeout_s: float):
        self.timeout_s, self.at = timeout_s, time.monotonic() + timeout_s
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(timeout_s, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        self._timer.join()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down at the deadline (at once if it has passed)."""
        with self._lock:
            self._sockets.append(sock.dup())
            if self.expired:
                self._shut(self._sockets[-1])

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by the other end


def _watched_pools(manager: urllib3.PoolManager, deadline: _Deadline) -> None:
    """Make the connections `manager` opens (directly, through a proxy or SOCKS alike) hand `deadline` their socket."""
    def watched(pool_cls):
        class Connection(pool_cls.ConnectionCls):
            def _new_conn(self):
                sock = super()._new_conn()
                deadline.watch(sock)
                return sock

        return type(pool_cls.__name__, (pool_cls,), {"ConnectionCls": Connection})

    manager.pool_classes_by_scheme = {scheme: watched(cls) for scheme, cls in manager.pool_classes_by_scheme.items()}


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, each of whose connections is under `deadline`."""

    def __init__(self, deadline: _Deadline):
        self.deadline = deadline
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        _watched_pools(self.poolmanager, self.deadline)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        new = proxy not in self.proxy_manager
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if new:
            _watched_pools(manager, self.deadline)
        return manager


def _read_body(reply: requests.Response, max_bytes: int, deadline: _Deadline) -> bytes:
    # read1 returns what one read from the socket gives, so a server that drips bytes meets the
    # deadline between drips; the socket's own timeout bounds a wait for the next drip.
    raw, body = reply.raw, bytearray()
    while True:
        remaining = deadline.at - time.monotonic()
        if remaining <= 0:
            raise Rejected("fetch-failed", f"took over {deadline.timeout_s:g} s")
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(remaining)
        chunk = raw.read1(_CHUNK, decode_content=True)  # decompressed, so a gzip bomb meets the limit too
        if not chunk:
            if deadline.expired:  # the end the deadline's shutdown made, not the body's
                raise Rejected("fetch-failed", f"took over {deadline.timeout_s:g} s")
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise Rejected("file-too-large", f"over {max_bytes} bytes")


def fetch(url: str, max_bytes: int, timeout_s: float = 10.0) -> bytes:
    """The body at `url`; Rejected if it is not http(s), fails, is over max_bytes or takes over timeout_s in all.

    The deadline holds from the connection to the body's last byte, redirects included (name lookup
    aside: the system resolver cannot be interrupted).
    """
    _check_url(url)
    with _Deadline(timeout_s) as deadline, requests.Session() as session:
        session.mount("http://", _DeadlineAdapter(deadline))
        session.mount("https://", _DeadlineAdapter(deadline))
        try:
            with session.get(url, stream=True, timeout=(timeout_s, timeout_s),
                             headers={"User-Agent": "segmad-ingest"}) as reply:
                if deadline.expired:  # what came of a head cut short is no answer
                    raise Rejected("fetch-failed", f"took over {timeout_s:g} s")
                if reply.status_code != 200:
                    raise Rejected("fetch-failed", f"HTTP {reply.status_code}")
                declared = reply.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise Rejected("file-too-large", f"{declared} bytes is over {max_bytes}")
                return _read_body(reply, max_bytes, deadline)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            if deadline.expired or isinstance(error, (requests.Timeout, urllib3.exceptions.ReadTimeoutError,
                                                      TimeoutError)):
                raise Rejected("fetch-failed", f"took over {timeout_s:g} s") from None
            raise Rejected("fetch-failed", f"{type(error).__name__}: {error}") from None
        except (ValueError, UnicodeError) as error:  # a URL that urlparse accepts but the HTTP stack does not
            raise Rejected("bad-url", f"{url!r}: {type(error).__name__}: {error}") from None
