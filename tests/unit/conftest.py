"""Fixtures shared by the unit tests."""

import pytest


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A data folder the CLI's ports and the test's ports share."""
    monkeypatch.setenv("SEGMAD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SEGMAD_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("SEGMAD_BLOB_URL", f"file://{tmp_path / 'blobs'}")
    monkeypatch.setenv("SEGMAD_BUS", "memory")
    return tmp_path
