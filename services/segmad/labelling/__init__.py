"""The labelling service: weak ratings of M, dense masks of S ∪ T with review, annotators (Flask)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from segmad.adapters.blobstore import BlobStore, LocalBlobStore

MAX_UPLOAD_BYTES = 16 * 1024 * 1024


def blob_store_from_url(url: str) -> BlobStore:
    """The blob store a `file://` URL names (S3 comes through its own adapter once it exists)."""
    if url.startswith("file://"):
        return LocalBlobStore(url[len("file://"):])
    raise ValueError(f"the labelling service cannot open blob store {url!r} yet (only file://)")


def _secret_key(data_dir: Path) -> str:
    # One key shared by every worker process, kept beside the data so sessions survive restarts.
    if os.environ.get("SEGMAD_SECRET_KEY"):
        return os.environ["SEGMAD_SECRET_KEY"]
    path = data_dir / "labelling-secret-key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(test_config: dict | None = None) -> Flask:
    """The app: settings from SEGMAD_* unless `test_config` gives DATABASE_URL, BLOB_STORE, SECRET_KEY."""
    from segmad import settings as settings_module
    from segmad.labelling import admin_api, api, auth, db, pages, security

    app = Flask(__name__)
    config = dict(test_config or {})
    if "DATABASE_URL" not in config or "BLOB_STORE" not in config or "SECRET_KEY" not in config:
        settings = settings_module.load()
        config.setdefault("DATABASE_URL", settings.database_url)
        config.setdefault("BLOB_STORE", blob_store_from_url(settings.blob_url))
        config.setdefault("SECRET_KEY", _secret_key(settings.data_dir))
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        DATABASE_SCHEMA=os.environ.get("SEGMAD_DATABASE_SCHEMA") or None,
    )
    app.config.update(config)
    app.extensions["segmad.engine"] = db.make_engine(app.config["DATABASE_URL"],
                                                     app.config.get("DATABASE_SCHEMA"))
    app.extensions["segmad.blobs"] = app.config["BLOB_STORE"]
    app.after_request(db.commit_db)
    app.teardown_appcontext(db.close_db)
    security.init_app(app)
    for blueprint in (auth.bp, pages.bp, api.bp, admin_api.bp):
        app.register_blueprint(blueprint)
    return app
