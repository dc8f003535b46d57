"""The labelling service: weak ratings of M, dense masks of S ∪ T with review, annotators (Flask)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

MAX_UPLOAD_BYTES = 16 * 1024 * 1024


def _secret_key(configured: str, data_dir: Path) -> str:
    # One key shared by every worker process, kept beside the data so sessions survive restarts.
    if configured:
        return configured
    path = data_dir / "labelling-secret-key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(test_config: dict | None = None) -> Flask:
    """The app: settings from SEGMAD_* unless `test_config` gives DATABASE_URL, BLOB_STORE, SECRET_KEY."""
    from segmad import bootstrap, settings as settings_module
    from segmad.catalog import make_engine
    from segmad.labelling import admin_api, admin_pages, api, auth, db, health, pages, report_view, security

    app = Flask(__name__)
    config = dict(test_config or {})
    settings = settings_module.load()
    if "DATABASE_URL" not in config or "BLOB_STORE" not in config or "SECRET_KEY" not in config:
        config.setdefault("DATABASE_URL", settings.database_url)
        config.setdefault("BLOB_STORE", bootstrap.blob_store(settings.blob_url))
        config.setdefault("SECRET_KEY", _secret_key(settings.secret_key, settings.data_dir))
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,  # behind TLS: cookies over HTTPS only, and HSTS
        DATABASE_SCHEMA=settings.database_schema or None,
        REPORT_DIR=settings.report_dir,
    )
    app.config.update(config)
    app.extensions["segmad.engine"] = make_engine(app.config["DATABASE_URL"],
                                                     app.config.get("DATABASE_SCHEMA"))
    app.extensions["segmad.blobs"] = app.config["BLOB_STORE"]
    app.after_request(db.commit_db)
    app.teardown_appcontext(db.close_db)
    security.init_app(app)
    for blueprint in (auth.bp, pages.bp, api.bp, admin_api.bp, admin_pages.bp, report_view.bp, health.bp):
        app.register_blueprint(blueprint)
    return app
