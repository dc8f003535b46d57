"""Atomic file writes: readers see the old content or the whole new one, and no temp file stays."""

import os

import pytest

from segmad import files
from segmad.files import is_temporary, write_bytes_atomic, write_text_atomic


def test_a_write_replaces_the_file_and_leaves_nothing_beside_it(tmp_path):
    (tmp_path / "a.json").write_text("old")
    write_text_atomic(tmp_path / "a.json", "néw")
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert (tmp_path / "a.json").read_text(encoding="utf-8") == "néw"


def test_a_failed_write_keeps_the_old_file_and_removes_its_temp_file(tmp_path, monkeypatch):
    (tmp_path / "a.bin").write_bytes(b"old")
    temps = []

    def crash(temp, path):
        temps.append(temp)
        raise OSError("disk gone")

    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(OSError):
        write_bytes_atomic(tmp_path / "a.bin", b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"] and (tmp_path / "a.bin").read_bytes() == b"old"
    assert is_temporary(temps[0].name) and not is_temporary("a.bin")


def test_the_file_gets_the_mode_a_plain_open_would_give(tmp_path):
    previous = os.umask(0o027)
    try:
        write_bytes_atomic(tmp_path / "a.bin", b"x")
    finally:
        os.umask(previous)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o640
