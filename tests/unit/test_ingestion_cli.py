"""`segmad ingest SRC`: a summary of what was ingested, duplicated and rejected, in text or JSON."""

import json

import pytest
from ingestion_fixtures import CORPUS, encode, halves

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


def test_limits_that_contradict_each_other_are_a_user_error(data_dir, tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(b"")
    assert ingest(tmp_path / "a.png", "--min-side", "100", "--max-side", "50") == 2
    assert "min_side must not exceed max_side" in capsys.readouterr().err


def test_a_missing_source_is_a_user_error(data_dir, tmp_path, capsys):
    assert ingest(tmp_path / "nothing") == 2
    assert "no such file or folder" in capsys.readouterr().err
