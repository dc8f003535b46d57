"""Sign in, sign out, and API tokens for scripts."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, redirect, render_template, request, session, url_for

from segmad.labelling.accounts import authenticate, issue_token
from segmad.labelling.db import get_db
from segmad.labelling.security import login_required

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only local paths, so the login form cannot bounce a user to another site.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; on success a fresh session."""
    error = None
    if request.method == "POST":
        user = authenticate(get_db(), request.form.get("name", ""), request.form.get("password", ""))
        if user is not None:
            session.clear()  # a new session id and CSRF token after login (no fixation)
            session["uid"] = user.id
            return redirect(_safe_next(request.args.get("next")))
        error = "wrong name or password"
    return render_template("login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    """End the session."""
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/api/tokens")
@login_required
def create_token():
    """A new bearer token for the caller (shown once)."""
    return jsonify(token=issue_token(get_db(), g.user.id)), 201
