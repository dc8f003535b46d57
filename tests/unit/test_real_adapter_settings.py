"""How the S3 and Kafka settings become adapters, without a server: nothing connects until first use."""

from __future__ import annotations

import pytest

from segmad.adapters.kafka import KafkaBus, parse_bus_url
from segmad.adapters.s3 import S3BlobStore, client_for, split_blob_url
from segmad.bootstrap import SettingError, blob_store, event_bus
from segmad.settings import Settings


def test_a_kafka_url_gives_the_broker_address():
    assert parse_bus_url("kafka://127.0.0.1:9092") == {"bootstrap": "127.0.0.1:9092"}


def test_a_kafka_url_may_set_the_partition_count_and_session_timeout():
    parsed = parse_bus_url("kafka://h:1?partitions=8&session_timeout_ms=3000")
    assert parsed == {"bootstrap": "h:1", "partitions": 8, "session_timeout_ms": 3000}


def test_a_kafka_url_may_set_a_namespace_for_topics_and_groups():
    assert parse_bus_url("kafka://h:1?namespace=bench-7") == {"bootstrap": "h:1", "namespace": "bench-7"}
    assert KafkaBus("h:1", namespace="bench-7").prefix == "bench-7."


@pytest.mark.parametrize("url", ["kafka://", "kafka://h:1/path", "kafka://h:1?colour=red", "kafka://h:1?partitions=x",
                                 "kafka://h:1?namespace=a.b"])
def test_a_malformed_kafka_url_is_refused(url):
    with pytest.raises(ValueError):
        parse_bus_url(url)


def test_a_bus_needs_at_least_one_partition():
    with pytest.raises(ValueError):
        KafkaBus("h:1", partitions=0)


def test_an_s3_url_gives_bucket_and_prefix():
    assert split_blob_url("s3://blobs/stage/a/") == ("blobs", "stage/a")


def test_an_s3_endpoint_must_be_an_http_url():
    with pytest.raises(ValueError):
        client_for("127.0.0.1:8333")


def test_the_s3_prefix_must_be_a_safe_name():
    with pytest.raises(ValueError):
        S3BlobStore(client_for("http://127.0.0.1:9"), "bucket", "../up")


def test_an_s3_blob_url_builds_the_s3_store_in_its_bucket_and_prefix(tmp_path):
    settings = Settings(data_dir=tmp_path, s3_endpoint="http://127.0.0.1:9", s3_access_key="a", s3_secret_key="b")
    store = blob_store("s3://blobs/run-1", settings)
    assert isinstance(store, S3BlobStore) and (store.bucket, store.prefix) == ("blobs", "run-1/")


def test_an_s3_blob_url_without_an_endpoint_is_refused_by_its_setting(tmp_path):
    with pytest.raises(SettingError, match="^SEGMAD_BLOB_URL=.*SEGMAD_S3_ENDPOINT"):
        blob_store("s3://blobs", Settings(data_dir=tmp_path, s3_endpoint=""))


def test_a_kafka_bus_setting_builds_the_kafka_bus_with_its_partitions():
    bus = event_bus("kafka://127.0.0.1:9?partitions=6")
    assert isinstance(bus, KafkaBus) and (bus.bootstrap, bus.partitions) == ("127.0.0.1:9", 6)


def test_a_malformed_kafka_bus_setting_is_refused_by_its_setting():
    with pytest.raises(SettingError, match="^SEGMAD_BUS="):
        event_bus("kafka://h:1?partitions=0")
