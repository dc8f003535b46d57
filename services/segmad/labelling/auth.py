"""Sign in, sign out, and API tokens for scripts."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, g, jsonify, redirect, render_template, request, session, url_for

from segmad.labelling.accounts import TooManySignIns, end_sessions, issue_token, retry_after, sign_in
from segmad.labelling.db import get_db
from segmad.labelling.security import login_required

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else the home page (the login form bounces nowhere else)."""
    # Browsers drop tabs and newlines inside URLs and read "\" as "/", so "/\t/evil" or "/\evil"
    # would become "//evil", another site; control characters would also break the Location header.
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)):
        return url_for("pages.home")
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; on success a fresh session."""
    if request.method == "GET":
        return render_template("login.html", error=None)
    conn = get_db()
    name = request.form.get("name", "")
    try:
        user = sign_in(conn, name, request.form.get("password", ""), request.remote_addr or "")
    except TooManySignIns as refused:
        return (render_template("login.html", error=str(refused)), 429,
                {"Retry-After": str(retry_after(refused.retry_at))})
    if user is None:
        conn.commit()  # the failure must count although the 401 below rolls back a request's work
        return render_template("login.html", error="wrong name or password"), 401
    session.clear()  # a new session id and CSRF token after login (no fixation)
    session["uid"], session["generation"] = user.id, user.session_generation
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout():
    """End the session, and every other session of the account, server-side."""
    if g.user is not None and g.auth == "session":
        end_sessions(get_db(), g.user.id)
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/api/tokens")
@login_required
def create_token():
    """A new bearer token for the caller (shown once)."""
    return jsonify(token=issue_token(get_db(), g.user.id)), 201
