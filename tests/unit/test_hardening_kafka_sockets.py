"""kafka-python's clients, as segmad's Kafka adapter sets them up, close the socket of every connection attempt
that fails or is cut short: a broker restarting under a live client leaves no socket for the interpreter to find.

No broker is needed: a closed port refuses at once, and a listener whose accept queue is full keeps a connect
waiting (the kernel drops its handshake), as a broker's host that went away does.
"""

from __future__ import annotations

import gc
import socket
import time
import warnings

import pytest

import segmad.adapters.kafka  # noqa: F401  (what is under test: importing it sets up kafka-python)
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError


def open_tcp_sockets() -> set[int]:
    """The ids of this process's TCP socket objects that are still open, once the garbage is collected."""
    gc.collect()
    # type(), not isinstance(): that asks some objects for __class__, which torch's deprecated ones warn about.
    return {id(s) for s in gc.get_objects()
            if issubclass(type(s), socket.socket) and s.family == socket.AF_INET and s.fileno() != -1}


@pytest.fixture
def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def stalled_port():
    """A port whose connects wait: its listener never accepts and its queue is full."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = []
    for _ in range(3):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        queued.append(client)
    time.sleep(0.1)
    yield port
    for client in queued:
        client.close()
    listener.close()


def test_refused_connection_attempts_leave_no_socket_open(refused_port):
    before = open_tcp_sockets()
    with pytest.raises(KafkaTimeoutError):
        # Tries (and is refused) several times before it gives up.
        KafkaConsumer(bootstrap_servers=f"127.0.0.1:{refused_port}", bootstrap_timeout_ms=1000)
    assert open_tcp_sockets() - before == set()


def test_closing_a_client_while_it_connects_closes_that_socket(stalled_port):
    before = open_tcp_sockets()
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{stalled_port}", api_version=(2, 5), max_block_ms=500)
    with pytest.raises(KafkaTimeoutError):
        producer.send("images", b"x")  # no metadata: it is still connecting when the wait is over
    assert len(open_tcp_sockets() - before) == 1  # the connect under way
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        producer.close(timeout=1)
        assert open_tcp_sockets() - before == set()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
