"""Annotator accounts: hashed passwords, disabling, API bearer tokens, and sign-in throttling."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, bindparam, delete, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from segmad.labelling.errors import Conflict, Invalid, LabellingError, NotFound
from segmad.labelling.tables import annotators, api_tokens, login_failures

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
    _check_password(password)
    if conn.execute(select(annotators.c.id).where(annotators.c.name == name)).first():
        raise Conflict(f"annotator {name!r} already exists")
    result = conn.execute(annotators.insert().values(
        name=name, password_hash=generate_password_hash(password, method=PASSWORD_METHOD), is_admin=is_admin, created_at=now()))
    return result.inserted_primary_key[0]


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password has at least {MIN_PASSWORD} characters")


def authenticate(conn: Connection, name: str, password: str):
    """The annotator row if name and password match and the account is enabled, else None."""
    row = conn.execute(select(annotators).where(annotators.c.name == name)).first()
    if row is None:
        # Hash anyway so a wrong name costs the same time as a wrong password.
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(row.password_hash, password):
        return None
    return None if row.disabled else row


def _account(conn: Connection, name: str):
    row = find_annotator(conn, name)
    if row is None:
        raise NotFound(f"no annotator named {name!r}")
    return row


def end_sessions(conn: Connection, annotator_id: int) -> None:
    """End every signed-in session of the account (its cookies stop working in every worker)."""
    conn.execute(update(annotators).where(annotators.c.id == annotator_id)
                 .values(session_generation=annotators.c.session_generation + 1))


def set_password(conn: Connection, name: str, password: str) -> None:
    """A new password for the account; its sessions end (its API tokens stay valid)."""
    _check_password(password)
    row = _account(conn, name)
    conn.execute(update(annotators).where(annotators.c.id == row.id).values(
        password_hash=generate_password_hash(password, method=PASSWORD_METHOD)))
    end_sessions(conn, row.id)


def set_disabled(conn: Connection, name: str, disabled: bool) -> None:
    """Disable (no sign-in, no token, sessions ended) or enable the account again."""
    row = _account(conn, name)
    conn.execute(update(annotators).where(annotators.c.id == row.id).values(disabled=disabled))
    if disabled:
        end_sessions(conn, row.id)


def session_user(conn: Connection, annotator_id: int, generation):
    """The account a session cookie names, or None when it was disabled or signed out since."""
    row = get_annotator(conn, annotator_id)
    if row is None or row.disabled or row.session_generation != generation:
        return None
    return row


def get_annotator(conn: Connection, annotator_id: int):
    """The annotator row with that id, or None."""
    return conn.execute(select(annotators).where(annotators.c.id == annotator_id)).first()


def find_annotator(conn: Connection, name: str):
    """The annotator row with that name, or None."""
    return conn.execute(select(annotators).where(annotators.c.name == name)).first()


def list_annotators(conn: Connection) -> list:
    """Every account that is not disabled (id, name, is_admin), by name: who can be given work."""
    return conn.execute(select(annotators.c.id, annotators.c.name, annotators.c.is_admin)
                        .where(annotators.c.disabled.is_(False)).order_by(annotators.c.name)).all()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn: Connection, annotator_id: int, expires_in: timedelta | None = None) -> str:
    """A new bearer token for scripts (valid for `expires_in`, else until revoked); only its hash is stored."""
    token = secrets.token_urlsafe(32)
    created = now()
    conn.execute(api_tokens.insert().values(
        annotator_id=annotator_id, token_hash=_digest(token), created_at=created,
        expires_at=created + expires_in if expires_in is not None else None))
    return token


def list_tokens(conn: Connection, name: str) -> list:
    """The account's tokens (id, created_at, expires_at, revoked_at), oldest first; never the tokens."""
    row = _account(conn, name)
    return conn.execute(select(api_tokens.c.id, api_tokens.c.created_at, api_tokens.c.expires_at,
                               api_tokens.c.revoked_at)
                        .where(api_tokens.c.annotator_id == row.id).order_by(api_tokens.c.id)).all()


def revoke_tokens(conn: Connection, name: str, token_id: int | None = None) -> int:
    """Revoke one token of the account by id, or all of them when `token_id` is None; how many."""
    row = _account(conn, name)
    query = update(api_tokens).where(api_tokens.c.annotator_id == row.id, api_tokens.c.revoked_at.is_(None))
    if token_id is not None:
        query = query.where(api_tokens.c.id == token_id)
    revoked = conn.execute(query.values(revoked_at=now())).rowcount
    if token_id is not None and not revoked:
        raise NotFound(f"{name!r} has no unrevoked token {token_id}")
    return revoked


_BY_TOKEN = (select(annotators).join(api_tokens, api_tokens.c.annotator_id == annotators.c.id)
             .where(api_tokens.c.token_hash == bindparam("token_hash"), api_tokens.c.revoked_at.is_(None),
                    or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > bindparam("now")),
                    annotators.c.disabled.is_(False)))  # built once: every API call


def annotator_for_token(conn: Connection, token: str):
    """The enabled annotator an unexpired, unrevoked bearer token belongs to, or None."""
    return conn.execute(_BY_TOKEN, {"token_hash": _digest(token), "now": now()}).first()


_DUMMY_HASH = generate_password_hash("not-a-real-password")


def annotator_names(conn: Connection) -> list[str]:
    """Every annotator account that is neither an admin nor disabled, by name."""
    query = (select(annotators.c.name).where(annotators.c.is_admin.is_(False), annotators.c.disabled.is_(False))
             .order_by(annotators.c.name))
    return list(conn.execute(query).scalars())


# Sign-in throttling: a client may guess a few passwords, not thousands. Per account, so spreading
# guesses over many addresses does not help; per address, so spreading them over accounts does not.
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 10
MAX_FAILURES_PER_ADDRESS = 30


class TooManySignIns(LabellingError):
    """Sign-ins refused until `retry_at` (UTC) after too many failures."""

    status = 429

    def __init__(self, whose: str, retry_at: datetime):
        self.retry_at = retry_at
        super().__init__(f"too many failed sign-ins for {whose}; try again after "
                         f"{retry_at:%Y-%m-%d %H:%M:%S} UTC (in {retry_after(retry_at)} s)")


def retry_after(retry_at: datetime) -> int:
    """Whole seconds from now until `retry_at` (at least 1), for a Retry-After header."""
    return max(1, math.ceil((retry_at - now()).total_seconds()))


def _throttle_keys(name: str, address: str) -> list[tuple[str, int, str]]:
    return [(f"name:{name}"[:128], MAX_FAILURES_PER_ACCOUNT, "this account"),
            (f"addr:{address}"[:128], MAX_FAILURES_PER_ADDRESS, "your address")]


def check_throttle(conn: Connection, name: str, address: str) -> None:
    """Raise TooManySignIns while sign-ins to `name` or from `address` are refused."""
    since = now() - THROTTLE_WINDOW
    for key, limit, reason in _throttle_keys(name, address):
        # The limit-th newest failure in the window: once it ages out, a guess is allowed again.
        oldest_counted = conn.execute(
            select(login_failures.c.failed_at).where(login_failures.c.key == key, login_failures.c.failed_at > since)
            .order_by(login_failures.c.failed_at.desc()).offset(limit - 1).limit(1)).scalar()
        if oldest_counted is not None:
            raise TooManySignIns(reason, oldest_counted + THROTTLE_WINDOW)


def sign_in(conn: Connection, name: str, password: str, address: str):
    """The account if name and password match, else None; throttled before any password is hashed."""
    check_throttle(conn, name, address)
    user = authenticate(conn, name, password)
    if user is None:
        record_login_failure(conn, name, address)
    else:
        clear_login_failures(conn, name)
    return user


def record_login_failure(conn: Connection, name: str, address: str) -> None:
    """Count a failed sign-in against the account name and the address; forget every failure past the window."""
    at = now()
    # All keys, not just these: guesses at made-up names would otherwise leave rows nobody prunes.
    conn.execute(delete(login_failures).where(login_failures.c.failed_at <= at - THROTTLE_WINDOW))
    conn.execute(login_failures.insert(),
                 [{"key": key, "failed_at": at} for key, _, _ in _throttle_keys(name, address)])


def clear_login_failures(conn: Connection, name: str) -> None:
    """Forget the account's failures after a successful sign-in (the address's still count)."""
    conn.execute(delete(login_failures).where(login_failures.c.key == _throttle_keys(name, "")[0][0]))
