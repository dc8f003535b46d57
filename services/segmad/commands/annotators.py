"""`segmad annotators add|password|disable|enable|token|tokens|revoke-token|simulate`: accounts from the shell."""

from __future__ import annotations

import argparse
import secrets
import sys
from datetime import timedelta

from segmad.errors import InputError


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 36500:
        raise argparse.ArgumentTypeError(f"DAYS is a number of days above 0, not {text!r}")
    return value


def add_arguments(parser) -> None:
    """add NAME [--admin] [--password-stdin] | password NAME [--password-stdin] | disable NAME | enable NAME |
    token NAME [--expires-in DAYS] | tokens NAME | revoke-token NAME (ID | --all) | simulate --url URL ...."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    stdin_help = "read the password from stdin (else one is generated and printed)"
    add = sub.add_parser("add", help="create an annotator account")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may open and close campaigns, export")
    add.add_argument("--password-stdin", action="store_true", help=stdin_help)
    password = sub.add_parser("password", help="set a new password; the account's sessions end")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help=stdin_help)
    for action, text in (("disable", "refuse sign-ins and tokens; the account's sessions end"),
                         ("enable", "let a disabled account sign in and use its tokens again")):
        sub.add_parser(action, help=text).add_argument("name")
    token = sub.add_parser("token", help="issue an API bearer token for scripts (printed once)")
    token.add_argument("name")
    token.add_argument("--expires-in", type=_days, metavar="DAYS", help="valid for DAYS days (default: until revoked)")
    sub.add_parser("tokens", help="list an account's tokens: id, created, expires, revoked").add_argument("name")
    revoke = sub.add_parser("revoke-token", help="revoke one of an account's tokens (id from `tokens`) or all")
    revoke.add_argument("name")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("token_id", nargs="?", type=int, metavar="ID")
    which.add_argument("--all", action="store_true", help="every token of the account")
    from segmad.labelling.simulate_cmd import add_simulate_arguments
    add_simulate_arguments(sub)


def _new_password(args) -> tuple[str, str]:
    """The password (from stdin or generated) and what to print about it."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), ""
    password = secrets.token_urlsafe(12)
    return password, f" with password {password}"


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}Z" if moment is not None else "-"


def _act(conn, args) -> None:
    from segmad.labelling import accounts

    if args.action == "add":
        password, shown = _new_password(args)
        accounts.create_annotator(conn, args.name, password, is_admin=args.admin)
        print(f"created {'admin' if args.admin else 'annotator'} {args.name}{shown}")
    elif args.action == "password":
        password, shown = _new_password(args)
        accounts.set_password(conn, args.name, password)
        print(f"new password for {args.name}{shown}; its sessions ended")
    elif args.action in ("disable", "enable"):
        accounts.set_disabled(conn, args.name, args.action == "disable")
        print(f"{args.action}d {args.name}")
    elif args.action == "token":
        row = accounts.find_annotator(conn, args.name)
        if row is None:
            raise InputError(f"no annotator named {args.name!r}")
        expires_in = timedelta(days=args.expires_in) if args.expires_in else None
        print(accounts.issue_token(conn, row.id, expires_in))
    elif args.action == "tokens":
        tokens = accounts.list_tokens(conn, args.name)  # an unknown name fails before the header is printed
        print("id\tcreated\texpires\trevoked")
        for token in tokens:
            print(f"{token.id}\t{_when(token.created_at)}\t{_when(token.expires_at)}\t{_when(token.revoked_at)}")
    else:
        count = accounts.revoke_tokens(conn, args.name, None if args.all else args.token_id)
        print(f"revoked {count} token{'' if count == 1 else 's'} of {args.name}")


def run(args) -> int:
    """Change accounts and tokens in the catalog named by the settings, or run simulated annotators."""
    if args.action == "simulate":
        from segmad.labelling.simulate_cmd import run_simulate
        return run_simulate(args)
    from segmad import settings
    from segmad.catalog import make_engine, migrate
    from segmad.labelling.errors import LabellingError

    loaded = settings.load()
    engine = make_engine(loaded.database_url, loaded.database_schema or None)
    migrate(engine)
    try:
        with engine.begin() as conn:
            _act(conn, args)
    except LabellingError as error:
        raise InputError(str(error)) from None
    finally:
        engine.dispose()
    return 0
