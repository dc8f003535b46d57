"""The composition root: which adapter each setting picks, and clear errors for the rest."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sqlalchemy import inspect

from segmad.adapters.blobstore import LocalBlobStore
from segmad.adapters.bus import InMemoryBus
from segmad.adapters.segmenter import TorchSegmenter
from segmad.ports.segmenter import ModelRef
from segmad.bootstrap import SettingError, build, with_segmenter
from segmad.models import build as build_model
from segmad.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("SEGMAD_DATABASE_URL", "DATABASE_URL", "SEGMAD_BLOB_URL", "SEGMAD_BUS", "SEGMAD_TORCHSERVE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_the_defaults_build_the_embedded_adapters_under_the_data_folder(tmp_path):
    ports = build(Settings(data_dir=tmp_path))
    try:
        assert isinstance(ports.blobs, LocalBlobStore) and ports.blobs.root == (tmp_path / "blobs").resolve()
        assert isinstance(ports.bus, InMemoryBus) and isinstance(ports.segmenter, TorchSegmenter)
        assert ports.catalog.engine.url.database == str(tmp_path / "catalog.db")
    finally:
        ports.close()


def test_the_built_catalog_is_migrated(tmp_path):
    ports = build(Settings(data_dir=tmp_path))
    try:
        assert "images" in inspect(ports.catalog.engine).get_table_names()
    finally:
        ports.close()


def test_a_torchserve_url_gives_the_torchserve_segmenter_without_connecting(tmp_path):
    from segmad.adapters.torchserve import TorchServeSegmenter

    ports = build(Settings(data_dir=tmp_path, torchserve_url="http://127.0.0.1:9"))
    try:
        assert isinstance(ports.segmenter, TorchServeSegmenter)
    finally:
        ports.segmenter.close()
        ports.close()


def test_the_embedded_release_serves_a_new_version_in_the_ports_own_segmenter_at_once(tmp_path):
    ports = build(Settings(data_dir=tmp_path))
    try:
        ports.release.release("target", "v1", build_model("fcn8s", 3), "fcn8s", 3, 32)
        assert ports.segmenter.predict("target", "v1", np.zeros((1, 32, 32, 3), np.uint8)).shape == (1, 32, 32)
    finally:
        ports.close()


def test_a_torchserve_url_releases_through_torchserve_into_the_model_store(tmp_path):
    from segmad.adapters.torchserve_release import TorchServeRelease

    ports = build(Settings(data_dir=tmp_path, torchserve_url="http://127.0.0.1:9", model_store=tmp_path / "store"))
    try:
        assert isinstance(ports.release, TorchServeRelease) and ports.release.model_store == tmp_path / "store"
        assert ports.release.management is ports.segmenter.management
    finally:
        ports.close()


def test_ports_given_their_own_segmenter_release_into_it(tmp_path):
    ports = build(Settings(data_dir=tmp_path))
    try:
        own = with_segmenter(ports, TorchSegmenter())
        own.release.release("target", "v1", build_model("fcn8s", 3), "fcn8s", 3, 32)
        assert own.segmenter.models() == [ModelRef("target", "v1")] and ports.segmenter.models() == []
    finally:
        ports.close()


def test_a_torchserve_url_without_a_port_is_refused_by_its_setting(tmp_path):
    with pytest.raises(SettingError, match="^SEGMAD_TORCHSERVE_URL=.*host:port"):
        build(Settings(data_dir=tmp_path, torchserve_url="http://torchserve"))


@pytest.mark.parametrize(
    "override, variable",
    [
        ({"blob_url": "ftp://host/x"}, "SEGMAD_BLOB_URL"),
        ({"bus": "redis://host"}, "SEGMAD_BUS"),
        ({"database_url": "mysql://host/segmad"}, "SEGMAD_DATABASE_URL"),
    ],
)
def test_an_unknown_scheme_is_refused_by_its_setting(tmp_path, override, variable):
    with pytest.raises(SettingError, match=f"^{variable}="):
        build(Settings(data_dir=tmp_path, **override))


def test_an_unreachable_database_is_refused_by_its_setting_without_the_password(tmp_path):
    url = "postgresql+psycopg2://postgres:secret@127.0.0.1:9/segmad"  # port 9 (discard) refuses at once
    with pytest.raises(SettingError, match="^SEGMAD_DATABASE_URL=.*cannot open") as caught:
        build(Settings(data_dir=tmp_path, database_url=url))
    assert "secret" not in str(caught.value)


def test_the_workers_on_torchserve_never_import_torch(tmp_path):
    # A worker whose models TorchServe runs starts ~1 s sooner and ~185 MB smaller without torch: what
    # counts when Kubernetes adds members on lag. The in-process segmenter still imports it (next test).
    code = f"""
import sys
from pathlib import Path
import segmad.inference.server, segmad.discrepancy.server, segmad.ingestion.server
from segmad.bootstrap import build
from segmad.inference.handler import InferenceHandler
from segmad.settings import Settings
ports = build(Settings(data_dir=Path({str(tmp_path)!r}), database_url="sqlite:///{tmp_path}/c.db",
                       blob_url="file://{tmp_path}/blobs", bus="memory", torchserve_url="http://127.0.0.1:9"))
InferenceHandler(ports, 8)
assert not ports.segmenter.in_process
print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_in_process_segmenter_runs_models_here(tmp_path):
    ports = build(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/c.db",
                           blob_url=f"file://{tmp_path}/blobs", bus="memory", torchserve_url=""))
    assert isinstance(ports.segmenter, TorchSegmenter) and ports.segmenter.in_process


@pytest.mark.parametrize("torchserve_url, loaded", [("", True), ("http://127.0.0.1:9", False)])
def test_preload_imports_torch_for_the_in_process_segmenter_only(tmp_path, torchserve_url, loaded):
    # A gunicorn master preloads, so that its forked workers share torch instead of importing it at boot.
    code = f"""
import sys
from pathlib import Path
from segmad.bootstrap import preload
from segmad.settings import Settings
preload(Settings(data_dir=Path({str(tmp_path)!r}), torchserve_url={torchserve_url!r}))
print("torch" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(loaded)
