"""The event bus on Kafka (or any Kafka-protocol broker, e.g. Tansu) through kafka-python 3.x."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable
from urllib.parse import parse_qs, urlparse

# kafka-python 3.0 loads its protocol schemas with a deprecated importlib call at import time;
# silenced here (and only for that message) so that warnings-as-errors runs can import it.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="(read|open)_text is deprecated", category=DeprecationWarning)
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KafkaTopicPartition
    from kafka.errors import TopicAlreadyExistsError
    from kafka.structs import OffsetAndMetadata

from segmad.ports.bus import Commit, Consumer, EventBus, Message, next_offsets

# A group join on Tansu takes about half the session timeout: kafka-python's 45 s default means a
# 23 s wait at every (re)start; 6 s gives 3 s, still far above a heartbeat's interval.
SESSION_TIMEOUT_MS = 6000


def _close_sockets_of_failed_connects() -> None:
    """Make kafka-python close the socket of a connection attempt that fails or is abandoned."""
    # kafka-python 3.0 makes a socket per attempt and drops it unclosed when the attempt is refused or
    # times out (a broker restarting under a live client) or is cancelled (a client closed while
    # connecting); the error's traceback then keeps it open until the interpreter exits. Wrapped here,
    # where it connects, for every client this module makes (none of them uses a proxy, whose classes
    # connect on their own). If a kafka-python release moves this method, nothing is wrapped and
    # tests/unit/test_hardening_kafka_sockets.py says so.
    try:
        from kafka.net.inet import KafkaNetSocket
    except ImportError:
        return
    connect = KafkaNetSocket.sock_connect
    if getattr(connect, "closes_on_failure", False):
        return

    async def sock_connect(self, net, sock, sockaddr, timeout_at=None):
        try:
            return await connect(self, net, sock, sockaddr, timeout_at=timeout_at)
        except BaseException:  # GeneratorExit too: the client's selector cancels an attempt on close
            sock.close()
            raise

    sock_connect.closes_on_failure = True
    KafkaNetSocket.sock_connect = sock_connect


_close_sockets_of_failed_connects()


def parse_bus_url(url: str) -> dict:
    """KafkaBus arguments of kafka://host:port[,host:port][?partitions=N&session_timeout_ms=MS&namespace=NS]."""
    parsed = urlparse(url)
    options = parse_qs(parsed.query)
    unknown = set(options) - {"partitions", "session_timeout_ms", "namespace"}
    if parsed.scheme != "kafka" or not parsed.netloc or parsed.path.strip("/") or unknown:
        raise ValueError("expected kafka://host:port[?partitions=N&session_timeout_ms=MS&namespace=NS]")
    namespace = options.pop("namespace", [""])[-1]
    if namespace and not all(c.isalnum() or c in "-_" for c in namespace):
        raise ValueError("a namespace has letters, digits, '-' and '_' only")
    try:
        numbers = {name: int(values[-1]) for name, values in options.items()}
    except ValueError:
        raise ValueError("partitions and session_timeout_ms are whole numbers") from None
    return {"bootstrap": parsed.netloc, **numbers, **({"namespace": namespace} if namespace else {})}


class KafkaBus(EventBus):
    """Topics on a Kafka broker; a topic is created with `partitions` partitions the first time it is used.

    A `namespace` prefixes the broker's topic and group names ("NS.images"), so that several segmad
    deployments (a benchmark beside `make up`'s services) share one broker without reading each
    other's messages; the code above the port sees the plain names.
    """

    def __init__(self, bootstrap: str, partitions: int = 4, session_timeout_ms: int = SESSION_TIMEOUT_MS,
                 client_id: str = "segmad", namespace: str = ""):
        if partitions < 1 or session_timeout_ms < 1000:
            raise ValueError("partitions must be at least 1 and session_timeout_ms at least 1000")
        self.bootstrap, self.partitions, self.client_id = bootstrap, partitions, client_id
        self.prefix = f"{namespace}." if namespace else ""
        self.session_timeout_ms = session_timeout_ms
        # Connections open on first use, so building the adapters never waits for a broker.
        self._producer: KafkaProducer | None = None
        self._known_topics: set[str] = set()
        self._send_errors: list[BaseException] = []
        self._lock = threading.Lock()

    def ensure_topics(self, topics: Iterable[str]) -> None:
        """Create the topics that do not exist yet (partition count: `self.partitions`)."""
        missing = [self.prefix + t for t in topics if self.prefix + t not in self._known_topics]
        if not missing:
            return
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id)
        try:
            existing = set(admin.list_topics())
            wanted = {t: {"num_partitions": self.partitions, "replication_factor": 1}
                      for t in missing if t not in existing}
            if wanted:
                try:
                    admin.create_topics(wanted, wait_for_metadata=True)
                except TopicAlreadyExistsError:
                    pass  # another process created it meanwhile: what we wanted
        finally:
            admin.close()
        self._known_topics.update(missing)

    def _producer_for(self, topic: str) -> KafkaProducer:
        with self._lock:
            self.ensure_topics([topic])
            if self._producer is None:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap, client_id=self.client_id,
                    acks="all", linger_ms=5, batch_size=256 * 1024,  # batching multiplies throughput
                )
            return self._producer

    def publish(self, topic: str, key: str, value: bytes) -> None:
        if not isinstance(key, str) or not isinstance(value, bytes):
            raise TypeError("a message needs a str key and a bytes value")
        # The default partitioner hashes the key (murmur2, as Java clients do): one key, one partition.
        future = self._producer_for(topic).send(self.prefix + topic, key=key.encode("utf-8"), value=value)
        future.add_errback(self._send_errors.append)

    def flush(self) -> None:
        if self._producer is not None:
            self._producer.flush()
        if self._send_errors:
            error, self._send_errors = self._send_errors[0], []
            raise error

    def subscribe(self, topics: Iterable[str], group: str, max_handle_s: float | None = None) -> Consumer:
        topics = list(topics)
        self.ensure_topics(topics)
        poll_interval_ms = None if max_handle_s is None else int(max_handle_s * 1000)
        return KafkaBusConsumer(self.bootstrap, topics, group, self.session_timeout_ms, self.client_id,
                                poll_interval_ms, self.prefix)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None


class KafkaBusConsumer(Consumer):
    """A Kafka group member that commits only the offsets it is told to."""

    def __init__(self, bootstrap: str, topics: list[str], group: str,
                 session_timeout_ms: int = SESSION_TIMEOUT_MS, client_id: str = "segmad",
                 max_poll_interval_ms: int | None = None, prefix: str = ""):
        # kafka-python's heartbeat thread keeps the member alive while a poll is handled, but leaves the
        # group once max_poll_interval_ms (default 5 min) pass between polls: a long handler raises it.
        longer = {} if max_poll_interval_ms is None else {"max_poll_interval_ms": max_poll_interval_ms}
        self.prefix = prefix  # the bus's namespace: on the broker's topic and group names only
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=prefix + group, client_id=client_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=session_timeout_ms, heartbeat_interval_ms=session_timeout_ms // 3, **longer,
        )
        self._consumer.subscribe([prefix + t for t in topics])
        self._closed = False

    def poll(self, max_records: int = 100, timeout_s: float = 1.0) -> list[Message]:
        if self._closed:
            raise RuntimeError("poll on a closed consumer")
        batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        return [
            Message(r.topic[len(self.prefix):], r.partition, r.offset, (r.key or b"").decode("utf-8"), r.value)
            for records in batches.values() for r in records
        ]

    def commit(self, done: Commit) -> None:
        if self._closed:
            raise RuntimeError("commit on a closed consumer")
        offsets = {KafkaTopicPartition(self.prefix + tp.topic, tp.partition): OffsetAndMetadata(offset, "", -1)
                   for tp, offset in next_offsets(done).items()}
        if offsets:
            self._consumer.commit(offsets)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            # Never autocommit: only what the loop committed counts as handled.
            self._consumer.close(autocommit=False)
            self._consumer = None
