"""Who is calling (session or bearer token), CSRF checks, roles, and the security headers."""

from __future__ import annotations

import functools
import hmac
import secrets

from flask import current_app, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from segmad.labelling.accounts import annotator_for_token, session_user
from segmad.labelling.db import get_db
from segmad.labelling.errors import LabellingError

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HSTS = "max-age=31536000"  # a year: browsers then refuse plain HTTP to this host


def csrf_token() -> str:
    """This session's CSRF token (made on first use); forms and JSON requests echo it back."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def wants_json() -> bool:
    """Whether the caller is the JSON API (it gets JSON errors rather than pages)."""
    return request.path.startswith("/api/")


def _load_user():
    g.user, g.auth = None, None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        g.user, g.auth = annotator_for_token(get_db(), header[len("Bearer "):].strip()), "token"
    elif "uid" in session:
        # Checked against the database on every request, so a cookie stops working at logout,
        # a password change or disabling, whatever its signature says.
        g.user, g.auth = session_user(get_db(), session["uid"], session.get("generation")), "session"
        if g.user is None:
            session.pop("uid", None)
            session.pop("generation", None)


def _check_csrf():
    # Bearer-token calls carry no cookie, so a forged cross-site request cannot make one.
    if request.method not in UNSAFE or g.auth == "token":
        return None
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return error_response("missing or wrong CSRF token; reload the page", 400)
    return None


def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)  # a view may set a stricter one (/report)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def error_response(message: str, status: int):
    """The error as JSON for the API, as a page for a browser."""
    if wants_json():
        return jsonify(error=message), status
    return render_template("error.html", message=message, status=status), status


def login_required(view):
    """Views for any signed-in annotator; 401 for the API, the login page for browsers."""
    @functools.wraps(view)
    def wrapped(**kwargs):
        if g.user is None:
            if wants_json():
                return jsonify(error="sign in or send an API token"), 401
            return redirect(url_for("auth.login", next=request.path))
        return view(**kwargs)
    return wrapped


def admin_required(view):
    """Views for admins only; annotators get 403."""
    @functools.wraps(view)
    @login_required
    def wrapped(**kwargs):
        if not g.user.is_admin:
            return error_response("admins only", 403)
        return view(**kwargs)
    return wrapped


def init_app(app) -> None:
    """Install user loading, CSRF checks, headers and error mapping on the app."""
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.context_processor(lambda: {"csrf_token": csrf_token, "user": g.get("user")})

    @app.errorhandler(LabellingError)
    def _refused(error):
        return error_response(str(error), error.status)

    @app.errorhandler(413)
    def _too_large(error):
        limit = app.config["MAX_CONTENT_LENGTH"]
        return error_response(f"upload too large (limit {limit} bytes)", 413)

    @app.errorhandler(HTTPException)
    def _http(error):
        return error_response(error.description or error.name, error.code)
