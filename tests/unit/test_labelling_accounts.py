"""Labelling accounts: tokens that expire and can be revoked, disabled accounts, and the admin commands."""

import io
from datetime import timedelta

import pytest

from labelling_fixtures import PASSWORD, app, client, login, store  # noqa: F401  (fixtures)
from segmad.cli import main
from segmad.labelling import accounts, create_app


def issue(app, name: str = "ann", expires_in: timedelta | None = None) -> dict:
    with app.extensions["segmad.engine"].begin() as conn:
        token = accounts.issue_token(conn, accounts.find_annotator(conn, name).id, expires_in)
    return {"Authorization": f"Bearer {token}"}


def change(app, action, *args):
    with app.extensions["segmad.engine"].begin() as conn:
        return action(conn, *args)


def test_a_token_without_expiry_keeps_working(app, client, monkeypatch):
    headers = issue(app)
    a_century_later = accounts.now() + timedelta(days=36500)
    monkeypatch.setattr(accounts, "now", lambda: a_century_later)
    assert client.get("/api/campaigns", headers=headers).status_code == 200


def test_a_token_works_until_it_expires(app, client, monkeypatch):
    headers = issue(app, expires_in=timedelta(hours=1))
    assert client.get("/api/campaigns", headers=headers).status_code == 200
    later = accounts.now() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(accounts, "now", lambda: later)
    assert client.get("/api/campaigns", headers=headers).status_code == 401


def test_a_revoked_token_is_refused_and_the_others_still_work(app, client):
    first, second = issue(app), issue(app)
    token_id = change(app, accounts.list_tokens, "ann")[0].id
    assert change(app, accounts.revoke_tokens, "ann", token_id) == 1
    assert client.get("/api/campaigns", headers=first).status_code == 401
    assert client.get("/api/campaigns", headers=second).status_code == 200


def test_revoking_all_tokens_refuses_each(app, client):
    headers = [issue(app), issue(app)]
    assert change(app, accounts.revoke_tokens, "ann") == 2
    assert [client.get("/api/campaigns", headers=h).status_code for h in headers] == [401, 401]


def test_a_token_of_another_account_cannot_be_revoked_by_naming_this_one(app):
    issue(app, "bob")
    bobs = change(app, accounts.list_tokens, "bob")[0].id
    with pytest.raises(accounts.NotFound, match="no unrevoked token"):
        change(app, accounts.revoke_tokens, "ann", bobs)


def test_tokens_are_listed_with_their_expiry_and_revocation_but_never_the_token(app):
    issue(app, expires_in=timedelta(days=1))
    issue(app)
    change(app, accounts.revoke_tokens, "ann", change(app, accounts.list_tokens, "ann")[1].id)
    listed = change(app, accounts.list_tokens, "ann")
    assert [(t.expires_at is not None, t.revoked_at is not None) for t in listed] == [(True, False), (False, True)]
    assert set(listed[0]._fields) == {"id", "created_at", "expires_at", "revoked_at"}


def test_a_disabled_accounts_tokens_are_refused_until_it_is_enabled(app, client):
    headers = issue(app)
    change(app, accounts.set_disabled, "ann", True)
    assert client.get("/api/campaigns", headers=headers).status_code == 401
    change(app, accounts.set_disabled, "ann", False)
    assert client.get("/api/campaigns", headers=headers).status_code == 200


def test_a_disabled_account_is_offered_no_work(app):
    change(app, accounts.set_disabled, "bob", True)
    assert change(app, accounts.annotator_names) == ["ann", "eve"]  # a round's default annotators
    assert [a.name for a in change(app, accounts.list_annotators)] == ["admin", "ann", "eve"]  # the admin form
    change(app, accounts.set_disabled, "bob", False)
    assert change(app, accounts.annotator_names) == ["ann", "bob", "eve"]


def test_a_new_password_needs_the_minimum_length(app):
    with pytest.raises(accounts.Invalid, match="at least"):
        change(app, accounts.set_password, "ann", "short")


def test_changing_an_unknown_account_is_refused(app):
    with pytest.raises(accounts.NotFound, match="no annotator named"):
        change(app, accounts.set_disabled, "nobody", True)


# The commands, against a catalog they migrate themselves.

@pytest.fixture
def catalog(tmp_path, monkeypatch):
    monkeypatch.setattr(accounts, "PASSWORD_METHOD", "pbkdf2:sha256:1000")
    monkeypatch.setenv("SEGMAD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SEGMAD_DATABASE_URL", f"sqlite:///{tmp_path / 'catalog.db'}")
    return tmp_path


def segmad(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["annotators", *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def served(catalog, store):  # noqa: F811
    return create_app({"DATABASE_URL": f"sqlite:///{catalog / 'catalog.db'}", "BLOB_STORE": store,
                       "SECRET_KEY": "test", "TESTING": True}).test_client()


def test_disable_and_enable_commands_refuse_then_allow_sign_in(catalog, store, capsys, monkeypatch):
    segmad(capsys, "add", "alice", "--password-stdin", stdin=PASSWORD + "\n", monkeypatch=monkeypatch)
    assert segmad(capsys, "disable", "alice") == (0, "disabled alice\n")
    assert login(served(catalog, store), "alice").status_code == 401
    assert segmad(capsys, "enable", "alice") == (0, "enabled alice\n")
    assert login(served(catalog, store), "alice").status_code == 302


def test_password_command_reads_stdin_or_prints_a_generated_one(catalog, store, capsys, monkeypatch):
    segmad(capsys, "add", "alice")
    code, out = segmad(capsys, "password", "alice", "--password-stdin", stdin="another secret\n",
                       monkeypatch=monkeypatch)
    assert code == 0 and "another secret" not in out
    assert login(served(catalog, store), "alice", "another secret").status_code == 302
    code, out = segmad(capsys, "password", "alice")
    generated = out.split("with password ")[1].split(";")[0]
    assert login(served(catalog, store), "alice", generated).status_code == 302


def test_token_commands_issue_with_expiry_list_and_revoke(catalog, store, capsys):
    segmad(capsys, "add", "alice")
    token = segmad(capsys, "token", "alice", "--expires-in", "2")[1].strip()
    client, headers = served(catalog, store), {"Authorization": f"Bearer {token}"}
    assert client.get("/api/campaigns", headers=headers).status_code == 200
    code, listing = segmad(capsys, "tokens", "alice")
    row = listing.splitlines()[1].split("\t")
    assert code == 0 and row[0] == "1" and row[2] != "-" and row[3] == "-" and token not in listing
    assert segmad(capsys, "revoke-token", "alice", "1") == (0, "revoked 1 token of alice\n")
    assert client.get("/api/campaigns", headers=headers).status_code == 401


def test_revoking_an_unknown_token_is_an_error(catalog, capsys):
    segmad(capsys, "add", "alice")
    code, out = segmad(capsys, "revoke-token", "alice", "7")
    assert code == 2 and "no unrevoked token 7" in out


def test_a_token_expiry_must_be_a_positive_number_of_days(catalog, capsys):
    with pytest.raises(SystemExit):
        main(["annotators", "token", "alice", "--expires-in", "0"])
    assert "DAYS is a number of days above 0" in capsys.readouterr().err


def test_tokens_issued_before_the_migration_keep_working(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from segmad.catalog import make_engine, migrate
    from segmad.catalog.migrate import alembic_config
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
        created = {"at": accounts.now()}
        conn.execute(text("INSERT INTO annotators (name, password_hash, is_admin, created_at) "
                          "VALUES ('old', 'x', false, :at)"), created)
        conn.execute(text("INSERT INTO api_tokens (annotator_id, token_hash, created_at) VALUES (1, :hash, :at)"),
                     created | {"hash": accounts._digest("an old token")})
    migrate(engine)
    with engine.connect() as conn:
        assert accounts.annotator_for_token(conn, "an old token").name == "old"


def test_listing_the_tokens_of_an_unknown_account_prints_only_the_error(catalog, capsys):
    assert main(["annotators", "tokens", "ghost"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no table header before the error
    assert captured.err == "segmad annotators: error: no annotator named 'ghost'\n"


def test_a_missing_action_is_called_action_as_in_the_other_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["annotators"])
    assert exit_.value.code == 2
    assert "the following arguments are required: ACTION" in capsys.readouterr().err
