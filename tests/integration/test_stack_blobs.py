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
