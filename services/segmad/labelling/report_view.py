"""The latest written report (index.html, summary.json, figures/) served to admins at /report."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import re
from pathlib import Path

from flask import Blueprint, Response, current_app

from segmad.labelling.errors import NotFound
from segmad.labelling.security import admin_required

bp = Blueprint("report_view", __name__, url_prefix="/report")

_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I)


def report_folder() -> Path:
    """REPORT_DIR when it holds index.html, else its subfolder with the newest index.html."""
    root = Path(current_app.config["REPORT_DIR"])
    if (root / "index.html").is_file():
        return root
    written = [d for d in (root.iterdir() if root.is_dir() else ())
               if d.is_dir() and not d.is_symlink() and (d / "index.html").is_file()]
    if not written:
        raise NotFound("no report has been written yet: `segmad round report N` writes one into "
                       "SEGMAD_REPORT_DIR (default: the data folder's report/)")
    return max(written, key=lambda d: ((d / "index.html").stat().st_mtime, d.name))


def report_files(folder: Path) -> dict[str, Path]:
    """The folder's regular files by relative name; links and hidden files are left out, never followed."""
    files = {}
    for top, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = Path(top) / name
            if not name.startswith(".") and not path.is_symlink() and path.is_file():
                files[path.relative_to(folder).as_posix()] = path
    return files


def report_csp(page: str) -> str:
    """A policy for the report page: no script at all, its inline <style> blocks allowed by hash only."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in _STYLE.findall(page))
    return (f"default-src 'none'; script-src 'none'; style-src 'self' {hashes}".rstrip() +
            "; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


def _serve(name: str):
    # The URL only picks among the files listed in the folder; it never becomes a path itself.
    path = report_files(report_folder()).get(name)
    if path is None:
        raise NotFound(f"the report has no file {name!r}")
    data = path.read_bytes()  # a report's files are small; read whole, no file left open
    response = Response(data, mimetype=mimetypes.guess_type(path.name)[0] or "application/octet-stream")
    response.headers["Cache-Control"] = "private, no-cache"
    if path.suffix in (".html", ".htm"):
        response.headers["Content-Security-Policy"] = report_csp(data.decode("utf-8", errors="replace"))
    return response


@bp.get("", strict_slashes=False)
@admin_required
def index():
    """The report's page."""
    return _serve("index.html")


@bp.get("/<path:name>")
@admin_required
def report_file(name: str):
    """One file of the report (figures/NAME.png, summary.json)."""
    return _serve(name)
