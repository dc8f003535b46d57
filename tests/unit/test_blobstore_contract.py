"""What every BlobStore adapter promises; each adapter's test class mixes this in and provides an empty `store`."""

from __future__ import annotations

import pytest

from segmad.adapters.blobstore import LocalBlobStore

from segmad.ports.blobs import BlobNotFound, BlobStore


class BlobStoreContract:
    @pytest.fixture
    def store(self) -> BlobStore:
        raise NotImplementedError("an adapter's test class provides an empty store")

    def test_get_gives_back_the_bytes_that_were_put(self, store):
        store.put("images/a.png", b"\x89PNG\x00\xff")
        assert store.get("images/a.png") == b"\x89PNG\x00\xff"

    def test_every_byte_value_survives_a_round_trip(self, store):
        store.put("all-bytes", bytes(range(256)))
        assert store.get("all-bytes") == bytes(range(256))

    def test_an_empty_blob_is_stored_and_read_as_empty(self, store):
        store.put("empty", b"")
        assert store.exists("empty") and store.get("empty") == b""

    def test_a_second_put_replaces_the_blob(self, store):
        store.put("k", b"old")
        store.put("k", b"new")
        assert store.get("k") == b"new"

    def test_get_many_gives_back_what_put_many_stored_in_the_order_asked(self, store):
        store.put_many([(f"maps/{n}.png", bytes([n]) * n) for n in range(1, 20)], "image/png")
        keys = [f"maps/{n}.png" for n in (7, 1, 19, 3)]
        assert store.get_many(keys) == [bytes([n]) * n for n in (7, 1, 19, 3)]

    def test_get_many_with_a_missing_key_raises_blob_not_found(self, store):
        store.put("here", b"x")
        with pytest.raises(BlobNotFound):
            store.get_many(["here", "missing"])

    def test_get_of_a_missing_key_raises_blob_not_found(self, store):
        with pytest.raises(BlobNotFound):
            store.get("missing")

    def test_exists_says_whether_a_blob_is_there(self, store):
        store.put("here", b"x")
        assert (store.exists("here"), store.exists("not-here")) == (True, False)

    def test_a_deleted_blob_is_gone(self, store):
        store.put("k", b"x")
        store.delete("k")
        assert not store.exists("k")

    def test_deleting_a_missing_key_does_nothing(self, store):
        store.delete("missing")
        assert list(store.keys()) == []

    def test_keys_lists_every_key_sorted(self, store):
        for key in ("b/2", "a", "b/1/x"):
            store.put(key, b"x")
        assert list(store.keys()) == ["a", "b/1/x", "b/2"]

    def test_keys_with_a_prefix_lists_only_the_keys_that_start_with_it(self, store):
        for key in ("maps/1.png", "maps/2.png", "images/1.png"):
            store.put(key, b"x")
        assert list(store.keys("maps/")) == ["maps/1.png", "maps/2.png"]

    @pytest.mark.parametrize("key", ["", "/abs", "../up", "a/../b", "a//b", "sp ace"])
    def test_an_unsafe_key_is_refused(self, store, key):
        with pytest.raises(ValueError):
            store.put(key, b"x")


class TestLocalBlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self, tmp_path) -> BlobStore:
        return LocalBlobStore(tmp_path / "blobs")
