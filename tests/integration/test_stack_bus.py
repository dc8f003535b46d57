"""The event-bus contract on Tansu through kafka-python, and the broker keeping its log across a restart."""

from __future__ import annotations

import gc
import socket
import uuid
from urllib.parse import urlparse

import pytest

from segmad.ports.bus import TopicPartition
from segmad.adapters.kafka import KafkaBus, parse_bus_url
from segmad.stack.components import StackConfig, tansu
from segmad.stack.process import free_ports, start, stop
from tests.unit.test_bus_contract import BusContract, drain

# A join takes about half the session timeout on Tansu; 2 s keeps the suite quick (the default is 6 s).
FAST_JOIN = {"session_timeout_ms": 2000}


class TestKafkaBus(BusContract):
    quiet_s = 1.0

    @pytest.fixture
    def bus(self, local_stack):
        bus = KafkaBus(**{**parse_bus_url(local_stack["SEGMAD_BUS"]), **FAST_JOIN})
        yield bus
        bus.close()


def test_a_topic_is_created_with_the_configured_partition_count(local_stack):
    bus = KafkaBus(**{**parse_bus_url(local_stack["SEGMAD_BUS"]), "partitions": 3})
    topic = f"test-{uuid.uuid4().hex[:12]}"
    try:
        for i in range(60):
            bus.publish(topic, f"img-{i}", b"x")
        bus.flush()
        with bus.subscribe([topic], f"group-{uuid.uuid4().hex[:12]}") as consumer:
            assert {m.partition for m in drain(consumer, 60)} == {0, 1, 2}
    finally:
        bus.close()


@pytest.fixture
def own_broker(local_stack, tmp_path):
    """A Tansu of this test's own (fresh cluster id, on the stack's S3), so restarting it disturbs no one."""
    cfg = StackConfig(root=tmp_path, ports={"s3": urlparse(local_stack["SEGMAD_S3_ENDPOINT"]).port,
                                            "kafka": free_ports(1)[0]},
                      s3_access_key=local_stack["SEGMAD_S3_ACCESS_KEY"],
                      s3_secret_key=local_stack["SEGMAD_S3_SECRET_KEY"])
    broker = tansu(cfg, cluster_id=f"test-{uuid.uuid4().hex[:12]}")
    start(broker, tmp_path / "run", tmp_path / "logs")
    yield broker
    stop(broker, tmp_path / "run", grace_s=5)


def test_after_a_broker_restart_the_messages_are_there_and_a_group_resumes_after_its_commit(own_broker, tmp_path):
    url = f"kafka://127.0.0.1:{own_broker.port}?partitions=1&session_timeout_ms=2000"
    topic, group = "restart", "resumer"
    bus = KafkaBus(**parse_bus_url(url))
    for i in range(6):
        bus.publish(topic, f"img-{i}", str(i).encode())
    bus.flush()
    with bus.subscribe([topic], group) as consumer:
        handled = drain(consumer, 6)[:2]
        consumer.commit({TopicPartition(topic, 0): handled[-1].offset + 1})
    bus.close()

    stop(own_broker, tmp_path / "run", grace_s=5)
    start(own_broker, tmp_path / "run", tmp_path / "logs")

    bus = KafkaBus(**parse_bus_url(url))
    try:
        with bus.subscribe([topic], group) as resumed:
            assert [m.value for m in drain(resumed, 4)] == [b"2", b"3", b"4", b"5"]
        with bus.subscribe([topic], "newcomer") as newcomer:
            assert len(drain(newcomer, 6)) == 6
    finally:
        bus.close()


def test_buses_in_different_namespaces_share_a_broker_without_reading_each_other(local_stack):
    base = {**parse_bus_url(local_stack["SEGMAD_BUS"]), **FAST_JOIN, "partitions": 1}
    tag = uuid.uuid4().hex[:8]
    ours, theirs = KafkaBus(**base, namespace=f"a{tag}"), KafkaBus(**base, namespace=f"b{tag}")
    try:
        ours.publish("images", "k", b"ours")
        theirs.publish("images", "k", b"theirs")
        ours.flush()
        theirs.flush()
        with ours.subscribe(["images"], "inference") as consumer:
            (message,) = drain(consumer, 1)
            assert (message.topic, message.value) == ("images", b"ours")
            consumer.commit(message)
            assert consumer.poll(10, 1.0) == []
    finally:
        ours.close()
        theirs.close()


def test_a_socket_to_the_broker_dropped_unclosed_fails_no_test(local_stack):
    """What kafka-python now and then leaves behind (tests/integration/conftest.py): a connected socket to the
    broker that nothing closes. Without the conftest's filter the collector's ResourceWarning fails the test."""
    with socket.create_connection(("127.0.0.1", urlparse(local_stack["SEGMAD_BUS"]).port)) as kept:
        dropped = socket.socket(kept.family, kept.type)
        dropped.connect(kept.getpeername())
    cycle = [dropped]
    cycle.append(cycle)
    del dropped, cycle
    gc.collect()
