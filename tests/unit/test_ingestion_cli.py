"""`segmad ingest SRC`: a summary of what was ingested, duplicated and rejected, in text or JSON."""

import json
import os
import socket

import pytest
from ingestion_fixtures import CORPUS, encode, halves, noise

from segmad import bootstrap
from segmad.cli import main
from segmad.settings import Settings

REJECTED_FILES = ("truncated.jpg", "truncated.png", "corrupt.png", "empty.jpg", "page.html", "bomb.png")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    for name in ("SEGMAD_DATABASE_URL", "DATABASE_URL", "SEGMAD_BLOB_URL", "SEGMAD_BUS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEGMAD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    for name, make in CORPUS.items():
        path = folder / ("nested" if name.endswith(".gif") else "") / name  # one file deeper: the walk recurses
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make())
    return folder


def ingest(*args) -> int:
    return main(["ingest", *map(str, args), "--no-progress"])


def test_the_json_summary_counts_every_outcome(data_dir, corpus, capsys):
    assert ingest(corpus, "--format", "json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["ingested"], summary["duplicates"], summary["rejected"]) == (6, 0, 6)
    assert summary["rejected_by_reason"] == {"corrupt": 3, "decompression-bomb": 1, "empty": 1, "not-an-image": 1}
    assert {r["source"] for r in summary["rejections"]} == {str(corpus / n) for n in REJECTED_FILES}


def test_a_second_run_finds_only_duplicates_and_the_same_refusals(data_dir, corpus, capsys):
    ingest(corpus)
    capsys.readouterr()
    ingest(corpus, "--format", "json")
    summary = json.loads(capsys.readouterr().out)
    assert (summary["ingested"], summary["duplicates"], summary["rejected"]) == (0, 6, 6)


def test_the_images_land_in_the_configured_catalog(data_dir, corpus):
    ingest(corpus)
    ports = bootstrap.build(Settings())
    try:
        assert len(ports.catalog.image_ids()) == 6 and len(ports.catalog.rejections()) == 6
    finally:
        ports.close()


def test_the_text_summary_lists_reasons(data_dir, tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(encode(halves(40, 40), "PNG"))
    ingest(tmp_path / "a.png", "--min-side", "64")
    out = capsys.readouterr()
    assert out.out == "ingested 0, duplicates 0, rejected 1\n  too-small: 1\n"
    assert "too-small: 40x40 has a side under 64" in out.err


def test_limits_that_contradict_each_other_are_a_user_error_naming_the_options(data_dir, tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(b"")
    assert ingest(tmp_path / "a.png", "--min-side", "100", "--max-side", "50") == 2
    assert capsys.readouterr().err == "segmad ingest: error: --min-side must not exceed --max-side (100 > 50)\n"


@pytest.mark.parametrize(("env", "args", "message"), [
    ({}, ["--max-pixels", "-3"], "--max-pixels must be at least 1, got -3"),
    ({"SEGMAD_INGEST_MAX_BYTES": "0"}, [], "SEGMAD_INGEST_MAX_BYTES must be at least 1, got 0"),
    ({"SEGMAD_INGEST_MIN_SIDE": "100", "SEGMAD_INGEST_MAX_SIDE": "50"}, [],
     "SEGMAD_INGEST_MIN_SIDE must not exceed SEGMAD_INGEST_MAX_SIDE (100 > 50)"),
    ({"SEGMAD_INGEST_MIN_SIDE": "100"}, ["--max-side", "50"], "SEGMAD_INGEST_MIN_SIDE must not exceed --max-side (100 > 50)"),
    ({}, ["--max-side", "20"], "--min-side must not exceed --max-side (32 > 20)"),  # a default is named by its option
    ({"SEGMAD_INGEST_MIN_SIDE": "abc"}, [], "SEGMAD_INGEST_MIN_SIDE must be an integer, got 'abc'"),
])
def test_a_bad_limit_is_one_line_naming_the_option_or_variable_that_set_it(
        data_dir, tmp_path, capsys, monkeypatch, env, args, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert ingest(tmp_path, *args) == 2
    assert capsys.readouterr().err == f"segmad ingest: error: {message}\n"


def test_an_option_overrides_a_contradictory_environment(data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEGMAD_INGEST_MIN_SIDE", "64")
    monkeypatch.setenv("SEGMAD_INGEST_MAX_SIDE", "50")
    (tmp_path / "a.png").write_bytes(encode(halves(40, 40), "PNG"))
    assert ingest(tmp_path / "a.png", "--max-side", "100") == 1
    assert "too-small: 40x40 has a side under 64" in capsys.readouterr().err


@pytest.mark.parametrize("timeout", ["0", "-1", "nan"])
def test_a_timeout_that_is_not_a_positive_number_is_a_user_error(data_dir, tmp_path, capsys, timeout):
    assert ingest(tmp_path, "--timeout", timeout) == 2
    assert "--timeout must be a positive number of seconds" in capsys.readouterr().err


def test_a_missing_source_is_a_user_error(data_dir, tmp_path, capsys):
    assert ingest(tmp_path / "nothing") == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_a_run_where_every_input_failed_exits_1(data_dir, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"not an image")
    assert ingest(tmp_path / "in") == 1
    assert capsys.readouterr().out == "ingested 0, duplicates 0, rejected 1\n  not-an-image: 1\n"


def test_a_run_with_one_image_taken_beside_failures_exits_0(data_dir, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"not an image")
    (tmp_path / "in" / "b.png").write_bytes(encode(halves(40, 40), "PNG"))
    assert ingest(tmp_path / "in") == 0


def test_a_rerun_that_finds_only_duplicates_exits_0(data_dir, tmp_path):
    (tmp_path / "a.png").write_bytes(encode(halves(40, 40), "PNG"))
    ingest(tmp_path / "a.png")
    assert ingest(tmp_path / "a.png") == 0


def test_an_empty_folder_exits_0(data_dir, tmp_path):
    (tmp_path / "in").mkdir()
    assert ingest(tmp_path / "in") == 0


def test_a_file_name_that_is_not_utf8_does_not_stop_the_run(data_dir, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for i, name in enumerate((b"a-\xff.png", b"b.png")):
        with open(os.path.join(os.fsencode(folder), name), "wb") as file:
            file.write(encode(noise(seed=i), "PNG"))
    assert ingest(folder, "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["ingested"] == 2
    ports = bootstrap.build(Settings())
    try:
        sources = {ports.catalog.image(i).source for i in ports.catalog.image_ids()}
        assert f"{folder}/a-\\xff.png" in sources and len(list(ports.blobs.keys())) == 2
    finally:
        ports.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_an_s3_source_on_a_closed_endpoint_is_one_clear_line_and_exit_2(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("SEGMAD_S3_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    assert ingest("s3://pool/photos") == 2
    err = capsys.readouterr().err
    assert err.startswith("segmad ingest: error: s3://pool: cannot open the bucket:") and err.count("\n") == 1


def test_an_s3_source_without_an_endpoint_blames_the_source_not_the_blob_store_setting(data_dir, monkeypatch, capsys):
    monkeypatch.delenv("SEGMAD_S3_ENDPOINT", raising=False)
    assert ingest("s3://pool/photos") == 2
    assert capsys.readouterr().err == ("segmad ingest: error: SRC='s3://pool': an s3:// store needs "
                                       "SEGMAD_S3_ENDPOINT (http://host:port)\n")


def test_an_s3_source_naming_a_missing_bucket_is_an_error_and_creates_no_bucket(data_dir, monkeypatch, capsys):
    from test_ingestion_sources import FakeS3Client, fake_s3

    client, real = FakeS3Client({"pool": {}}), bootstrap.blob_store
    monkeypatch.setattr(bootstrap, "blob_store", lambda url, settings=None, **named: fake_s3(client)(url)
                        if url.startswith("s3://") else real(url, settings, **named))
    assert ingest("s3://pol/photos") == 2
    assert "s3://pol: no such bucket" in capsys.readouterr().err and client.made == []
