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


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: results are deterministic for a fixed thread count, and two
    oneDNN threads on two shared cores stall each other."""
    import torch  # here, not above: most unit tests never need torch loaded

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
