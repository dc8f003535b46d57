"""Throughput of the real adapters on a running stack: bus messages/s and S3 operations/s."""

from __future__ import annotations

import os
import time
import uuid

from segmad.adapters.kafka import KafkaBus, parse_bus_url
from segmad.adapters.s3 import S3BlobStore, client_for, split_blob_url


def bus_rates(bus_url: str, messages: int = 20000, size: int = 200) -> dict[str, float]:
    """Messages/s published (to flushed) and consumed (from subscribe to the last one) through KafkaBus."""
    bus = KafkaBus(**parse_bus_url(bus_url))
    topic, value = f"measure-{uuid.uuid4().hex[:8]}", os.urandom(size)
    try:
        bus.ensure_topics([topic])
        began = time.perf_counter()
        for i in range(messages):
            bus.publish(topic, f"img-{i}", value)
        bus.flush()
        produced = time.perf_counter() - began
        began, first, got, first_batch = time.perf_counter(), 0.0, 0, 0
        with bus.subscribe([topic], f"measure-{uuid.uuid4().hex[:8]}") as consumer:
            while got < messages and time.perf_counter() - began < 120:
                batch = consumer.poll(max_records=1000, timeout_s=1.0)
                if batch and not got:  # the rate counts from the first batch on, after the group join
                    first, first_batch = time.perf_counter(), len(batch)
                got += len(batch)
        ended = time.perf_counter()
    finally:
        bus.close()
    rate = (got - first_batch) / (ended - first) if got > first_batch else 0.0
    return {"produce_msg_per_s": messages / produced, "consume_msg_per_s": rate,
            "group_join_s": first - began, "message_bytes": size}


def blob_rates(env: dict[str, str], blobs: int = 300, size: int = 10_000) -> dict[str, float]:
    """PUTs/s and GETs/s of `size`-byte blobs through S3BlobStore, one after another."""
    bucket, _ = split_blob_url(env["SEGMAD_BLOB_URL"])
    client = client_for(env["SEGMAD_S3_ENDPOINT"], env["SEGMAD_S3_ACCESS_KEY"], env["SEGMAD_S3_SECRET_KEY"])
    store = S3BlobStore(client, bucket, f"measure-{uuid.uuid4().hex[:8]}")
    data, keys = os.urandom(size), [f"blob-{i}" for i in range(blobs)]
    began = time.perf_counter()
    for key in keys:
        store.put(key, data)
    put_s = time.perf_counter() - began
    began = time.perf_counter()
    for key in keys:
        store.get(key)
    get_s = time.perf_counter() - began
    for key in keys:
        store.delete(key)
    return {"s3_put_per_s": blobs / put_s, "s3_get_per_s": blobs / get_s, "blob_bytes": size}


def measure(env: dict[str, str]) -> dict[str, float]:
    """Every figure, for the stack whose settings are `env`."""
    return {**bus_rates(env["SEGMAD_BUS"]), **blob_rates(env)}
