"""What `segmad ingest SRC` reads: folders, files, files of URLs (over a local http server) and S3 prefixes."""

import os
import socket
import time
from http.server import BaseHTTPRequestHandler

import pytest
from ingestion_fixtures import encode, halves, serve_pages

from segmad.adapters.blobstore import LocalBlobStore
from segmad.adapters.s3 import S3BlobStore
from segmad.errors import InputError
from segmad.ingestion.bucket import open_existing_bucket
from segmad.ingestion.fetch import fetch
from segmad.ingestion.limits import Limits
from segmad.ingestion.normalise import Rejected
from segmad.ingestion.sources import inputs

PNG = encode(halves(40, 40), "PNG")


def no_bucket(name):
    raise AssertionError("no S3 here")


def sources(spec, limits=Limits(), timeout_s=2.0, open_bucket=no_bucket) -> list[str]:
    return [item.source for item in inputs(str(spec), limits, timeout_s, open_bucket)]


class Pages(BaseHTTPRequestHandler):
    """GET /ok.png, /big.png (no declared length), /slow.png, /drip.png (a byte every 0.2 s); anything else 404."""

    def do_GET(self):
        if self.path == "/drip.png":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            for i in range(len(PNG)):  # ~2 minutes in all; the client gives up long before
                self.wfile.write(PNG[i:i + 1])
                self.wfile.flush()
                time.sleep(0.2)
            return
        if self.path == "/slow.png":
            time.sleep(1.0)
        body = {"/ok.png": PNG, "/big.png": b"\0" * 5000, "/slow.png": PNG}.get(self.path)
        self.send_response(200 if body else 404)
        if self.path != "/big.png":  # the size limit must hold while reading, not only from the header
            self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass



@pytest.fixture(scope="module")
def site():
    with serve_pages(Pages) as url:
        yield url


def test_a_folder_is_read_recursively_in_order_without_hidden_files(tmp_path):
    for name in ("b.png", "sub/a.jpg", ".hidden.png", ".cache/c.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(PNG)
    assert sources(tmp_path) == [str(tmp_path / "b.png"), str(tmp_path / "sub/a.jpg")]


def test_a_single_image_file_is_one_input(tmp_path):
    (tmp_path / "a.png").write_bytes(PNG)
    [item] = inputs(str(tmp_path / "a.png"), Limits(), 1.0, no_bucket)
    assert item.read() == PNG


def test_a_text_file_of_urls_is_a_list_of_urls(tmp_path, site):
    (tmp_path / "urls.txt").write_text(f"# my pool\n{site}/ok.png\n\n{site}/missing.png\n")
    assert sources(tmp_path / "urls.txt") == [f"{site}/ok.png", f"{site}/missing.png"]


def test_a_url_is_fetched(site):
    assert fetch(f"{site}/ok.png", max_bytes=10_000) == PNG


@pytest.mark.parametrize(("path", "code"), [("/missing.png", "fetch-failed"), ("/big.png", "file-too-large")])
def test_a_url_that_fails_or_is_too_big_is_refused(site, path, code):
    with pytest.raises(Rejected, match=code):
        fetch(f"{site}{path}", max_bytes=1000)


def test_a_url_that_does_not_answer_in_time_is_refused(site):
    with pytest.raises(Rejected, match="fetch-failed"):
        fetch(f"{site}/slow.png", max_bytes=10_000, timeout_s=0.2)


def test_an_s3_prefix_lists_the_bucket_keys_under_it(tmp_path):
    bucket = LocalBlobStore(tmp_path)
    for key in ("photos/2024-a.png", "photos/2025-b.png", "other/c.png"):
        bucket.put(key, PNG)
    opened = []
    items = inputs("s3://pool/photos/2024", Limits(), 1.0, lambda name: opened.append(name) or bucket)
    assert [i.source for i in items] == ["s3://pool/photos/2024-a.png"] and opened == ["pool"]
    assert items[0].read() == PNG


def test_a_missing_object_in_a_bucket_is_a_refusal_not_a_crash(tmp_path):
    bucket = LocalBlobStore(tmp_path)
    bucket.put("a.png", PNG)
    [item] = inputs("s3://pool/", Limits(), 1.0, lambda name: bucket)
    bucket.delete("a.png")
    with pytest.raises(Rejected, match="unreadable"):
        item.read()


def test_an_object_the_store_cannot_serve_mid_run_is_a_refusal_not_a_crash(tmp_path):
    class Down(LocalBlobStore):
        def get(self, key):
            raise ConnectionError("the store went away")

    bucket = Down(tmp_path)
    bucket.put("a.png", PNG)
    [item] = inputs("s3://pool/", Limits(), 1.0, lambda name: bucket)
    with pytest.raises(Rejected, match="fetch-failed: ConnectionError: the store went away"):
        item.read()


def test_a_file_over_the_byte_limit_is_refused_unread(tmp_path):
    (tmp_path / "a.png").write_bytes(PNG)
    [item] = inputs(str(tmp_path / "a.png"), Limits(max_bytes=10), 1.0, no_bucket)
    with pytest.raises(Rejected, match="file-too-large"):
        item.read()


@pytest.mark.parametrize("spec", ["nowhere/at/all", "ftp://host/x.png"])
def test_a_source_segmad_cannot_read_is_a_user_error(spec):
    with pytest.raises(InputError):
        sources(spec)


def test_a_url_that_drips_its_body_is_refused_at_the_deadline(site):
    started = time.monotonic()
    with pytest.raises(Rejected, match="fetch-failed: took over 1 s"):
        fetch(f"{site}/drip.png", max_bytes=10_000, timeout_s=1.0)
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1]:99999/a.png", "http://", "ftp://host/a.png"])
def test_a_malformed_url_is_refused_not_raised(url):
    with pytest.raises(Rejected, match="bad-url"):
        fetch(url, max_bytes=1000)


def test_a_folder_does_not_follow_a_link_out_of_it(tmp_path):
    (tmp_path / "outside.png").write_bytes(PNG)
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "link.png").symlink_to(tmp_path / "outside.png")
    [item] = inputs(str(tmp_path / "pool"), Limits(), 1.0, no_bucket)
    assert item.source == str(tmp_path / "pool" / "link.png")
    with pytest.raises(Rejected, match="link-outside"):
        item.read()


def test_a_folder_reads_a_link_to_a_file_inside_it(tmp_path):
    (tmp_path / "a.png").write_bytes(PNG)
    (tmp_path / "b.png").symlink_to(tmp_path / "a.png")
    assert [item.read() for item in inputs(str(tmp_path), Limits(), 1.0, no_bucket)] == [PNG, PNG]


def bound_socket(path):
    with socket.socket(socket.AF_UNIX) as unix:
        unix.bind(str(path))


@pytest.mark.parametrize(("make", "code"), [
    (lambda p: p.symlink_to(p), "symlink-loop"),
    (lambda p: p.symlink_to(p.parent / "gone.png"), "dangling-symlink"),
    (lambda p: os.mkfifo(p), "not-a-file"),
    (lambda p: bound_socket(p), "not-a-file"),
])
def test_a_folder_entry_that_is_not_a_file_is_an_input_refused_with_a_reason(tmp_path, make, code):
    make(tmp_path / "x.png")
    [item] = inputs(str(tmp_path), Limits(), 1.0, no_bucket)
    with pytest.raises(Rejected, match=code):
        item.read()


def test_a_file_name_that_is_not_utf8_is_named_with_escapes(tmp_path):
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9\n.png"), "wb") as file:
        file.write(PNG)
    [item] = inputs(str(tmp_path), Limits(), 1.0, no_bucket)
    assert item.source == f"{tmp_path}/caf\\xe9\\x0a.png" and item.read() == PNG


class FakeS3Client:
    """The calls S3BlobStore makes to open, list and read a bucket, over a dict of buckets."""

    def __init__(self, buckets: dict[str, dict[str, bytes]]):
        self.buckets, self.made = buckets, []

    def bucket_exists(self, bucket):
        return bucket in self.buckets

    def make_bucket(self, bucket):
        self.made.append(bucket)
        self.buckets[bucket] = {}

    def list_objects(self, bucket, prefix="", recursive=False):
        return [type("Object", (), {"object_name": k, "is_dir": False})
                for k in sorted(self.buckets[bucket]) if k.startswith(prefix)]


def fake_s3(client):
    return lambda url: S3BlobStore(client, url.removeprefix("s3://"))


def test_reading_a_missing_bucket_is_an_error_and_creates_nothing():
    client = FakeS3Client({"pool": {}})
    with pytest.raises(InputError, match="no such bucket"):
        inputs("s3://pol/", Limits(), 1.0, lambda name: open_existing_bucket(name, fake_s3(client)))
    assert client.made == [] and set(client.buckets) == {"pool"}


def test_reading_an_existing_bucket_lists_it_and_creates_nothing():
    client = FakeS3Client({"pool": {"a.png": PNG}})
    items = inputs("s3://pool/", Limits(), 1.0, lambda name: open_existing_bucket(name, fake_s3(client)))
    assert [i.source for i in items] == ["s3://pool/a.png"] and client.made == []


def test_an_s3_store_that_cannot_be_reached_is_one_clear_error():
    class Unreachable(FakeS3Client):
        def bucket_exists(self, bucket):
            raise ConnectionRefusedError("[Errno 111] Connection refused\nmore detail")

    with pytest.raises(InputError, match=r"^s3://pool: cannot open the bucket: ConnectionRefusedError: .*refused$"):
        open_existing_bucket("pool", fake_s3(Unreachable({})))


def test_a_bucket_gone_after_it_was_opened_is_never_created_again():
    class Statting(FakeS3Client):
        def stat_object(self, bucket, name):
            return self.buckets[bucket][name]

    client = Statting({"pool": {"a.png": PNG}})
    store = open_existing_bucket("pool", fake_s3(client))
    del client.buckets["pool"]  # deleted between the check and the first read
    with pytest.raises(LookupError, match="no such bucket"):
        store.exists("a.png")
    assert client.made == []
