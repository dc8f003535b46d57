"""What every EventBus adapter promises; each adapter's test class mixes this in and provides `bus`.

Topics and groups are fresh per test, so the suite also runs against a long-lived Kafka broker.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from segmad.ports.bus import EventBus, Message, TopicPartition


def drain(consumer, want: int, timeout_s: float = 10.0) -> list[Message]:
    """Poll until `want` messages came (or the time is up)."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        got += consumer.poll(max_records=want - len(got), timeout_s=0.2)
    return got


class BusContract:
    # How long to wait before concluding that nothing (more) will arrive; a networked broker needs longer.
    quiet_s = 1.0

    @pytest.fixture
    def bus(self) -> EventBus:
        raise NotImplementedError("an adapter's test class provides the bus")

    @pytest.fixture
    def topic(self) -> str:
        return f"test-{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def group(self) -> str:
        return f"group-{uuid.uuid4().hex[:12]}"

    def test_a_published_message_arrives_with_its_topic_key_and_value(self, bus, topic, group):
        bus.publish(topic, "img-1", b"payload")
        bus.flush()
        with bus.subscribe([topic], group) as consumer:
            (message,) = drain(consumer, 1)
        assert (message.topic, message.key, message.value) == (topic, "img-1", b"payload")

    def test_messages_with_one_key_arrive_in_publish_order(self, bus, topic, group):
        for i in range(20):
            bus.publish(topic, "same", str(i).encode())
        bus.flush()
        with bus.subscribe([topic], group) as consumer:
            values = [m.value for m in drain(consumer, 20)]
        assert values == [str(i).encode() for i in range(20)]

    def test_one_key_always_lands_on_one_partition(self, bus, topic, group):
        for _ in range(5):
            bus.publish(topic, "img-7", b"x")
        bus.flush()
        with bus.subscribe([topic], group) as consumer:
            partitions = {m.partition for m in drain(consumer, 5)}
        assert len(partitions) == 1

    def test_a_new_group_reads_what_was_published_before_it_joined(self, bus, topic, group):
        bus.publish(topic, "a", b"1")
        bus.publish(topic, "b", b"2")
        bus.flush()
        with bus.subscribe([topic], group) as consumer:
            assert sorted(m.value for m in drain(consumer, 2)) == [b"1", b"2"]

    def test_committed_messages_are_not_delivered_again_after_a_restart(self, bus, topic, group):
        for i in range(4):
            bus.publish(topic, f"k{i}", b"v")
        bus.flush()
        with bus.subscribe([topic], group) as consumer:
            consumer.commit(drain(consumer, 4))
        with bus.subscribe([topic], group) as restarted:
            assert restarted.poll(max_records=10, timeout_s=self.quiet_s) == []

    def test_uncommitted_messages_are_delivered_again_after_a_restart(self, bus, topic, group):
        bus.publish(topic, "k", b"first")
        bus.publish(topic, "k", b"second")
        bus.flush()
        with bus.subscribe([topic], group) as consumer:
            first, second = drain(consumer, 2)
            consumer.commit(first)
        with bus.subscribe([topic], group) as restarted:
            assert [m.value for m in drain(restarted, 1)] == [b"second"]

    def test_an_offset_map_commits_like_the_messages_it_stands_for(self, bus, topic, group):
        bus.publish(topic, "k", b"first")
        bus.publish(topic, "k", b"second")
        bus.flush()
        with bus.subscribe([topic], group) as consumer:
            first, _ = drain(consumer, 2)
            consumer.commit({TopicPartition(first.topic, first.partition): first.offset + 1})
        with bus.subscribe([topic], group) as restarted:
            assert [m.value for m in drain(restarted, 1)] == [b"second"]

    def test_each_group_has_its_own_committed_offsets(self, bus, topic, group):
        bus.publish(topic, "k", b"v")
        bus.flush()
        with bus.subscribe([topic], group) as consumer:
            consumer.commit(drain(consumer, 1))
        with bus.subscribe([topic], group + "-other") as other:
            assert [m.value for m in drain(other, 1)] == [b"v"]

    def test_a_consumer_reads_every_topic_it_subscribed(self, bus, topic, group):
        bus.publish(topic, "k", b"one")
        bus.publish(topic + "-b", "k", b"two")
        bus.flush()
        with bus.subscribe([topic, topic + "-b"], group) as consumer:
            assert sorted(m.value for m in drain(consumer, 2)) == [b"one", b"two"]

    def test_poll_gives_at_most_max_records(self, bus, topic, group):
        for i in range(5):
            bus.publish(topic, "k", b"v")
        bus.flush()
        with bus.subscribe([topic], group) as consumer:
            time.sleep(self.quiet_s)
            assert len(consumer.poll(max_records=2, timeout_s=5.0)) <= 2

    def test_poll_gives_nothing_when_nothing_is_new(self, bus, topic, group):
        with bus.subscribe([topic], group) as consumer:
            assert consumer.poll(max_records=10, timeout_s=self.quiet_s) == []

    def test_a_waiting_poll_returns_a_message_published_meanwhile(self, bus, topic, group):
        with bus.subscribe([topic], group) as consumer:
            consumer.poll(max_records=1, timeout_s=self.quiet_s)
            later = threading.Timer(self.quiet_s, lambda: (bus.publish(topic, "k", b"late"), bus.flush()))
            later.start()
            try:
                assert [m.value for m in drain(consumer, 1)] == [b"late"]
            finally:
                later.join()

    def test_a_value_must_be_bytes(self, bus, topic):
        with pytest.raises(TypeError):
            bus.publish(topic, "k", "not bytes")
