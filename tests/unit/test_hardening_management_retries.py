"""TorchServe management calls are tried again, a bounded number of times with backoff, when they fail for a
reason that may clear (5xx, a refused or dropped connection, a timeout), and never for a 4xx; a register that
may have reached TorchServe is not sent twice. Against a local fake of the management API."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from segmad.adapters.torchserve_management import Management, ManagementError
from segmad.runtime.retries import is_transient


class FakeManagement(ThreadingHTTPServer):
    """Answers each "METHOD /path" with the next of its scripted answers (the last one repeats): a status, or
    "drop" (close the connection without a word) or "slow" (answer after a second); notes every request."""

    daemon_threads = True

    def __init__(self, script: dict[str, list], port: int = 0):
        self.script, self.seen = {key: list(answers) for key, answers in script.items()}, []
        super().__init__(("127.0.0.1", port), _Answer)

    def handle_error(self, request, client_address):
        pass  # a client that gave up on a slow answer

    def next_answer(self, key: str):
        self.seen.append(key)
        answers = self.script.get(key, [404])
        return answers.pop(0) if len(answers) > 1 else answers[0]


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies = {"GET /models": {"models": [{"modelName": "tiny"}]}, "GET /models/tiny/all": [{"modelVersion": "1"}]}

    def _answer(self):
        key = f"{self.command} {self.path.split('?')[0]}"
        answer = self.server.next_answer(key)
        if answer == "drop":
            self.close_connection = True
            return
        if answer == "slow":
            time.sleep(1.0)
            answer = 200
        body = json.dumps(self.bodies.get(key, {"status": "ok"}) if answer < 400 else
                          {"code": answer, "message": "scripted"}).encode()
        self.send_response(answer)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(server: FakeManagement):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def fake(script: dict[str, list]):
    server = FakeManagement(script)
    with serving(server) as url:
        yield url, server.seen


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def quick(url: str, **kwargs) -> Management:
    return Management(url, **{"timeout": 5.0, "attempts": 3, "wait_s": 0.01, "max_wait_s": 0.01, **kwargs})


def test_a_503_is_tried_again_until_torchserve_answers():
    with fake({"GET /models": [503, 503, 200], "GET /models/tiny/all": [200]}) as (url, seen):
        assert [ref.name for ref in quick(url).models()] == ["tiny"]
    assert seen.count("GET /models") == 3


@pytest.mark.parametrize("status", [400, 404, 409])
def test_a_4xx_is_never_tried_again(status):
    with fake({"PUT /models/tiny/2/set-default": [status, 200]}) as (url, seen):
        with pytest.raises(ManagementError, match=f"TorchServe answered {status}") as refused:
            quick(url).set_default("tiny", "2")
    assert refused.value.response.status_code == status and seen == ["PUT /models/tiny/2/set-default"]


def test_a_5xx_that_persists_fails_after_the_bounded_tries_with_the_last_answer():
    with fake({"GET /models/tiny": [500]}) as (url, seen):
        with pytest.raises(ManagementError, match="TorchServe answered 500 to GET"):
            quick(url, attempts=4).default_version("tiny")
    assert seen == ["GET /models/tiny"] * 4


def test_the_waits_between_tries_double():
    with fake({"GET /models/tiny/all": [503]}) as (url, _):
        started = time.monotonic()
        with pytest.raises(ManagementError):
            quick(url, attempts=3, wait_s=0.2, max_wait_s=5).versions("tiny")
        took = time.monotonic() - started
    assert 0.6 <= took < 2.0  # 0.2 s, then 0.4 s


def test_a_connection_dropped_without_an_answer_is_tried_again():
    with fake({"GET /models/tiny/all": ["drop", 200]}) as (url, seen):
        assert quick(url).versions("tiny") == [{"modelVersion": "1"}]
    assert len(seen) == 2


def test_a_read_that_times_out_is_tried_again():
    with fake({"GET /models/tiny/all": ["slow", 200]}) as (url, seen):
        assert quick(url, timeout=0.3).versions("tiny") == [{"modelVersion": "1"}]
    assert len(seen) == 2


def test_a_refused_connection_is_tried_again_until_torchserve_listens():
    port = closed_port()
    late: list[FakeManagement] = []

    def start_listening():
        late.append(FakeManagement({"GET /models": [200], "GET /models/tiny/all": [200]}, port=port))
        threading.Thread(target=late[0].serve_forever, daemon=True).start()

    starting = threading.Timer(0.3, start_listening)
    starting.start()
    try:
        client = quick(f"http://127.0.0.1:{port}", attempts=5, wait_s=0.2, max_wait_s=0.2)
        assert [ref.name for ref in client.models()] == ["tiny"]
    finally:
        starting.join()
        late[0].shutdown()
        late[0].server_close()


def test_a_register_refused_with_a_503_is_sent_again():
    with fake({"POST /models": [503, 200]}) as (url, seen):
        quick(url).register("tiny", "tiny-1.mar")
    assert seen == ["POST /models"] * 2


def test_a_register_that_timed_out_is_not_sent_again_as_torchserve_may_have_done_it():
    with fake({"POST /models": ["slow"]}) as (url, seen):
        with pytest.raises(requests.Timeout):
            quick(url, timeout=0.3).register("tiny", "tiny-1.mar")
    assert seen == ["POST /models"]


def test_a_register_never_sent_is_sent_again():
    port = closed_port()
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        quick(f"http://127.0.0.1:{port}", attempts=3, wait_s=0.2, max_wait_s=0.2).register("tiny", "tiny-1.mar")
    assert time.monotonic() - started >= 0.4  # two waits: it was tried three times


def test_the_consume_loop_counts_a_management_5xx_as_transient_and_a_4xx_as_permanent():
    with fake({"GET /models/tiny": [503], "GET /models/gone": [404]}) as (url, _):
        client = quick(url, attempts=1)
        with pytest.raises(ManagementError) as busy:
            client.default_version("tiny")
        with pytest.raises(ManagementError) as missing:
            client.default_version("gone")
    assert is_transient(busy.value) and not is_transient(missing.value)
