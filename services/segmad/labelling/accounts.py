"""Annotator accounts: hashed passwords and API bearer tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timezone

from sqlalchemy import Connection, bindparam, select
from werkzeug.security import check_password_hash, generate_password_hash

from segmad.labelling.errors import Conflict, Invalid
from segmad.labelling.tables import annotators, api_tokens

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD = 8
# werkzeug's default (scrypt); tests lower the cost, production never does.
PASSWORD_METHOD = "scrypt"


def now() -> datetime:
    """The current UTC time (one place, so tests and rows agree on the clock)."""
    return datetime.now(timezone.utc)


def create_annotator(conn: Connection, name: str, password: str, is_admin: bool = False) -> int:
    """A new account; its id. Names are letters, digits, '_', '.', '-'."""
    if not _NAME.match(name):
        raise Invalid("a name is 1-64 letters, digits, '_', '.' or '-'")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password has at least {MIN_PASSWORD} characters")
    if conn.execute(select(annotators.c.id).where(annotators.c.name == name)).first():
        raise Conflict(f"annotator {name!r} already exists")
    result = conn.execute(annotators.insert().values(
        name=name, password_hash=generate_password_hash(password, method=PASSWORD_METHOD), is_admin=is_admin, created_at=now()))
    return result.inserted_primary_key[0]


def authenticate(conn: Connection, name: str, password: str):
    """The annotator row if name and password match, else None."""
    row = conn.execute(select(annotators).where(annotators.c.name == name)).first()
    if row is None:
        # Hash anyway so a wrong name costs the same time as a wrong password.
        check_password_hash(_DUMMY_HASH, password)
        return None
    return row if check_password_hash(row.password_hash, password) else None


def get_annotator(conn: Connection, annotator_id: int):
    """The annotator row with that id, or None."""
    return conn.execute(select(annotators).where(annotators.c.id == annotator_id)).first()


def find_annotator(conn: Connection, name: str):
    """The annotator row with that name, or None."""
    return conn.execute(select(annotators).where(annotators.c.name == name)).first()


def list_annotators(conn: Connection) -> list:
    """Every account (id, name, is_admin), by name."""
    return conn.execute(select(annotators.c.id, annotators.c.name, annotators.c.is_admin)
                        .order_by(annotators.c.name)).all()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn: Connection, annotator_id: int) -> str:
    """A new bearer token for scripts; only its hash is stored, so it is shown once."""
    token = secrets.token_urlsafe(32)
    conn.execute(api_tokens.insert().values(
        annotator_id=annotator_id, token_hash=_digest(token), created_at=now()))
    return token


_BY_TOKEN = (select(annotators).join(api_tokens, api_tokens.c.annotator_id == annotators.c.id)
             .where(api_tokens.c.token_hash == bindparam("token_hash")))  # built once: every API call


def annotator_for_token(conn: Connection, token: str):
    """The annotator a bearer token belongs to, or None."""
    return conn.execute(_BY_TOKEN, {"token_hash": _digest(token)}).first()


_DUMMY_HASH = generate_password_hash("not-a-real-password")


def annotator_names(conn: Connection) -> list[str]:
    """Every annotator account that is not an admin, by name."""
    query = select(annotators.c.name).where(annotators.c.is_admin.is_(False)).order_by(annotators.c.name)
    return list(conn.execute(query).scalars())
