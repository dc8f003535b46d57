"""The blob-store contract on SeaweedFS's S3, through the minio client."""

from __future__ import annotations

import uuid

import pytest
from minio.error import S3Error

from segmad.adapters.s3 import S3BlobStore, client_for, split_blob_url
from segmad.bootstrap import blob_store
from segmad.settings import Settings
from tests.unit.test_blobstore_contract import BlobStoreContract


class TestS3BlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self, local_stack) -> S3BlobStore:
        bucket, _ = split_blob_url(local_stack["SEGMAD_BLOB_URL"])
        client = client_for(local_stack["SEGMAD_S3_ENDPOINT"], local_stack["SEGMAD_S3_ACCESS_KEY"],
                            local_stack["SEGMAD_S3_SECRET_KEY"])
        return S3BlobStore(client, bucket, f"test-{uuid.uuid4().hex[:12]}")  # a fresh prefix is an empty store


def test_the_store_built_from_the_stack_settings_reads_back_what_it_wrote(local_stack, tmp_path):
    settings = Settings(data_dir=tmp_path, s3_endpoint=local_stack["SEGMAD_S3_ENDPOINT"],
                        s3_access_key=local_stack["SEGMAD_S3_ACCESS_KEY"],
                        s3_secret_key=local_stack["SEGMAD_S3_SECRET_KEY"])
    store = blob_store(f"{local_stack['SEGMAD_BLOB_URL']}/test-{uuid.uuid4().hex[:12]}", settings)
    store.put("a.bin", b"bytes")
    assert store.get("a.bin") == b"bytes"


def test_wrong_keys_are_refused_by_the_server(local_stack):
    bucket, _ = split_blob_url(local_stack["SEGMAD_BLOB_URL"])
    client = client_for(local_stack["SEGMAD_S3_ENDPOINT"], local_stack["SEGMAD_S3_ACCESS_KEY"], "wrong-secret")
    with pytest.raises(S3Error, match="SignatureDoesNotMatch|AccessDenied"):
        S3BlobStore(client, bucket, "test-denied").put("k", b"x")


def test_seaweedfs_counts_the_s3_requests_of_each_bucket_by_type(local_stack):
    """What `segmad bench pipeline` reports as S3 requests per image: SeaweedFS's own counters, read back."""
    from segmad.bench.pipeline_runs import s3_requests

    url = local_stack.get("SEGMAD_S3_METRICS_URL")
    if not url:
        pytest.skip("the running stack was started before SeaweedFS's metrics port was (make down && make up)")
    bucket, _ = split_blob_url(local_stack["SEGMAD_BLOB_URL"])
    client = client_for(local_stack["SEGMAD_S3_ENDPOINT"], local_stack["SEGMAD_S3_ACCESS_KEY"],
                        local_stack["SEGMAD_S3_SECRET_KEY"])
    store = S3BlobStore(client, bucket, f"test-{uuid.uuid4().hex[:12]}")
    store.put("first", b"x")  # the bucket exists from here on: its requests are all counted below
    before = s3_requests(url)
    for n in range(3):
        store.put(f"k{n}", b"bytes")
    store.get("k0")
    after = s3_requests(url)
    assert after[f"{bucket} PUT"] - before.get(f"{bucket} PUT", 0) == 3
    assert after[f"{bucket} GET"] - before.get(f"{bucket} GET", 0) == 1
    assert s3_requests("http://127.0.0.1:1/metrics") is None  # nothing listening: no figures, no error
