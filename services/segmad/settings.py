"""The one settings object of a segmad process, read from SEGMAD_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


_TRUE = ("1", "true", "yes", "on")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _num_classes() -> int:
    """C: SEGMAD_NUM_CLASSES; unset, one fewer than the names in SEGMAD_CLASSES (background first); else 8."""
    named = [n for n in _env("SEGMAD_CLASSES", "").split(",") if n.strip()]
    return int(_env("SEGMAD_NUM_CLASSES", str(len(named) - 1 if len(named) > 1 else 8)))


@dataclass(frozen=True)
class Settings:
    """Where segmad keeps its state and which adapters it talks to (see README, Configuration)."""

    data_dir: Path = field(default_factory=lambda: Path(_env("SEGMAD_DATA_DIR", "data")))
    database_url: str = ""
    bus: str = field(default_factory=lambda: _env("SEGMAD_BUS", "memory"))
    blob_url: str = ""
    s3_endpoint: str = field(default_factory=lambda: _env("SEGMAD_S3_ENDPOINT", ""))
    s3_access_key: str = field(default_factory=lambda: _env("SEGMAD_S3_ACCESS_KEY", ""))
    s3_secret_key: str = field(default_factory=lambda: _env("SEGMAD_S3_SECRET_KEY", ""))
    torchserve_url: str = field(default_factory=lambda: _env("SEGMAD_TORCHSERVE_URL", ""))
    secret_key: str = field(default_factory=lambda: _env("SEGMAD_SECRET_KEY", ""))  # signs labelling sessions
    # Labelling served over HTTPS: Secure cookies and Strict-Transport-Security.
    secure_cookies: bool = field(default_factory=lambda: _env("SEGMAD_SECURE_COOKIES", "").lower() in _TRUE)
    database_schema: str = field(default_factory=lambda: _env("SEGMAD_DATABASE_SCHEMA", ""))  # PostgreSQL schema
    num_classes: int = field(default_factory=_num_classes)  # C when a checkpoint does not say
    report_dir: Path | None = None  # the report the labelling service shows admins at /report
    finetune: str = field(default_factory=lambda: _env("SEGMAD_FINETUNE", "demo"))  # the trainer's preset: demo | paper
    finetune_max_steps: str = field(default_factory=lambda: _env("SEGMAD_FINETUNE_MAX_STEPS", ""))  # "" = the preset's
    model_store: Path = field(default_factory=lambda: Path(_env("SEGMAD_MODEL_STORE", "")))  # TorchServe's --model-store
    # The workers' handling of transient errors (runtime/retries.py): tries in all, first wait, longest wait.
    retry_attempts: int = field(default_factory=lambda: int(_env("SEGMAD_RETRY_ATTEMPTS", "3")))
    retry_wait_s: float = field(default_factory=lambda: float(_env("SEGMAD_RETRY_WAIT_S", "0.5")))
    retry_max_wait_s: float = field(default_factory=lambda: float(_env("SEGMAD_RETRY_MAX_WAIT_S", "5")))

    def __post_init__(self):
        # Defaults that depend on data_dir: an embedded SQLite catalog and a local blob folder.
        if not self.database_url:
            url = os.environ.get("SEGMAD_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
            object.__setattr__(self, "database_url", url or f"sqlite:///{self.data_dir / 'catalog.db'}")
        if not self.blob_url:
            url = os.environ.get("SEGMAD_BLOB_URL", "")
            object.__setattr__(self, "blob_url", url or f"file://{(self.data_dir / 'blobs').resolve()}")
        if self.report_dir is None:
            folder = os.environ.get("SEGMAD_REPORT_DIR", "")
            object.__setattr__(self, "report_dir", Path(folder) if folder else self.data_dir / "report")
        if self.model_store == Path(""):
            object.__setattr__(self, "model_store", self.data_dir / "model-store")

    @property
    def zoo_dir(self) -> Path:
        """Folder of the model zoo's checkpoints."""
        return self.data_dir / "zoo"


def load() -> Settings:
    """Settings of this process, from the environment."""
    return Settings()
