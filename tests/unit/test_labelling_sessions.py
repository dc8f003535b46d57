"""Labelling service: where a sign-in may redirect, sessions that end server-side, TLS cookies, throttling."""

from datetime import timedelta

import pytest

from labelling_fixtures import PASSWORD, app, client, csrf_of, login, store, weak  # noqa: F401  (fixtures)
from segmad.labelling import accounts, create_app
from segmad.settings import Settings


def login_to(client, path_and_query: str, name: str = "ann", password: str = PASSWORD):
    """Sign in through the form at a login URL such as `/login?next=...`; the response."""
    csrf = csrf_of(client)["X-CSRF-Token"]
    return client.post(path_and_query, data={"name": name, "password": password, "csrf_token": csrf})


def test_login_follows_a_local_next_path(client):
    response = login_to(client, "/login?next=/admin%3Ftab%3D1")
    assert response.status_code == 302 and response.headers["Location"] == "/admin?tab=1"


@pytest.mark.parametrize("next_", ["/%09/evil.example", "/%0a/evil.example", "//evil.example", "/%5Cevil.example",
                                   "https://evil.example/", "/%0d%0aSet-Cookie:%20x=1", "evil.example", "/%7F/evil"])
def test_login_sends_any_other_next_to_the_home_page(client, next_):
    response = login_to(client, f"/login?next={next_}")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str):
    """A fresh client holding a captured session cookie, as an attacker who copied it would."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def test_a_cookie_captured_before_logout_can_neither_read_nor_write(app, client, weak):
    login(client, "ann")
    csrf = csrf_of(client)
    captured = session_cookie(client)
    client.post("/logout", data={"csrf_token": csrf["X-CSRF-Token"]})
    thief = replay(app, captured)
    assert thief.get("/api/campaigns").status_code == 401
    rating = thief.put(f"/api/campaigns/{weak}/items/1/rating", json={"rating": 3, "seconds": 1}, headers=csrf)
    assert rating.status_code == 401


def test_a_cookie_still_works_until_logout(app, client):
    login(client, "ann")
    assert replay(app, session_cookie(client)).get("/api/campaigns").status_code == 200


def test_logout_ends_the_accounts_sessions_in_other_browsers(app, client):
    other = app.test_client()
    login(client, "ann")
    login(other, "ann")
    client.post("/logout", data={"csrf_token": csrf_of(client)["X-CSRF-Token"]})
    assert other.get("/api/campaigns").status_code == 401


def test_a_password_change_ends_the_accounts_sessions(app, client):
    login(client, "ann")
    with app.extensions["segmad.engine"].begin() as conn:
        accounts.set_password(conn, "ann", "a new password")
    assert client.get("/api/campaigns").status_code == 401
    assert login(client, "ann").status_code == 401
    assert login(client, "ann", "a new password").status_code == 302


def test_disabling_an_account_ends_its_sessions_and_refuses_sign_in(app, client):
    login(client, "ann")
    with app.extensions["segmad.engine"].begin() as conn:
        accounts.set_disabled(conn, "ann", True)
    assert client.get("/api/campaigns").status_code == 401
    assert login(client, "ann").status_code == 401


def test_an_enabled_account_signs_in_again(app, client):
    with app.extensions["segmad.engine"].begin() as conn:
        accounts.set_disabled(conn, "ann", True)
        accounts.set_disabled(conn, "ann", False)
    assert login(client, "ann").status_code == 302


def test_a_session_without_a_generation_is_not_signed_in(client):
    with client.session_transaction() as session:
        session["uid"] = 2  # a cookie signed before sessions were revocable
    assert client.get("/api/campaigns").status_code == 401


def app_with(tmp_path, store, **config):  # noqa: F811
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "BLOB_STORE": store,
                       "SECRET_KEY": "test", "TESTING": True, **config})


def test_secure_cookies_mark_the_session_cookie_secure_and_send_hsts(tmp_path, store):
    client = app_with(tmp_path, store, SESSION_COOKIE_SECURE=True).test_client()
    response = client.get("/login", base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_without_secure_cookies_there_is_no_hsts_and_no_secure_flag(tmp_path, store, monkeypatch):
    monkeypatch.delenv("SEGMAD_SECURE_COOKIES", raising=False)
    response = app_with(tmp_path, store).test_client().get("/login")
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers


@pytest.mark.parametrize(("value", "secure"), [("1", True), ("true", True), ("", False), ("0", False)])
def test_the_secure_cookies_setting_comes_from_the_environment(monkeypatch, value, secure):
    monkeypatch.setenv("SEGMAD_SECURE_COOKIES", value)
    assert Settings().secure_cookies is secure


def test_the_app_takes_secure_cookies_from_the_settings(tmp_path, store, monkeypatch):
    monkeypatch.setenv("SEGMAD_SECURE_COOKIES", "1")
    assert app_with(tmp_path, store).config["SESSION_COOKIE_SECURE"] is True


def fail(client, name: str, times: int):
    for _ in range(times):
        assert login(client, name, "wrong password").status_code == 401


def test_too_many_wrong_passwords_refuse_even_the_right_one_with_429(client):
    fail(client, "ann", accounts.MAX_FAILURES_PER_ACCOUNT)
    response = login(client, "ann")
    assert response.status_code == 429 and b"try again after" in response.data
    assert 0 < int(response.headers["Retry-After"]) <= accounts.THROTTLE_WINDOW.total_seconds()


def test_a_throttled_sign_in_hashes_no_password(client, monkeypatch):
    fail(client, "ann", accounts.MAX_FAILURES_PER_ACCOUNT)
    hashed = []
    monkeypatch.setattr(accounts, "check_password_hash", lambda *a: hashed.append(a) or True)
    assert login(client, "ann").status_code == 429 and hashed == []


def test_throttling_per_account_holds_across_worker_processes(app, client, tmp_path, store):
    fail(client, "ann", accounts.MAX_FAILURES_PER_ACCOUNT)
    other_worker = app_with(tmp_path, store).test_client()  # another app on the same database
    assert login(other_worker, "ann").status_code == 429


def test_throttling_per_address_covers_guesses_spread_over_accounts(client, monkeypatch):
    monkeypatch.setattr(accounts, "MAX_FAILURES_PER_ADDRESS", 3)
    for name in ("ann", "bob", "eve"):
        fail(client, name, 1)
    response = login(client, "admin")
    assert response.status_code == 429 and b"your address" in response.data


def test_other_accounts_still_sign_in_while_one_is_throttled(client, app):
    fail(client, "ann", accounts.MAX_FAILURES_PER_ACCOUNT)
    assert login(app.test_client(), "bob").status_code == 302


def test_a_throttled_account_signs_in_once_the_window_has_passed(client, monkeypatch):
    fail(client, "ann", accounts.MAX_FAILURES_PER_ACCOUNT)
    later = accounts.now() + accounts.THROTTLE_WINDOW + timedelta(seconds=1)
    monkeypatch.setattr(accounts, "now", lambda: later)
    assert login(client, "ann").status_code == 302


def test_a_successful_sign_in_forgets_the_accounts_failures(client):
    fail(client, "ann", accounts.MAX_FAILURES_PER_ACCOUNT - 1)
    assert login(client, "ann").status_code == 302
    fail(client, "ann", accounts.MAX_FAILURES_PER_ACCOUNT - 1)
    assert login(client, "ann").status_code == 302
