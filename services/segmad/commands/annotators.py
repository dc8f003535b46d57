"""`segmad annotators add|token|simulate`: accounts from the shell, and simulated annotators at work."""

from __future__ import annotations

import secrets
import sys

from segmad.errors import InputError


def add_arguments(parser) -> None:
    """add NAME [--admin] [--password-stdin] | token NAME | simulate --url URL --campaign ID ...."""
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="create an annotator account")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may open and close campaigns, export")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from stdin (else one is generated and printed)")
    token = sub.add_parser("token", help="issue an API bearer token for scripts (printed once)")
    token.add_argument("name")
    from segmad.labelling.simulate_cmd import add_simulate_arguments
    add_simulate_arguments(sub)


def run(args) -> int:
    """Create the account or token in the catalog named by the settings, or run simulated annotators."""
    if args.action == "simulate":
        from segmad.labelling.simulate_cmd import run_simulate
        return run_simulate(args)
    from segmad import settings
    from segmad.labelling import accounts
    from segmad.catalog import make_engine, migrate
    from segmad.labelling.errors import LabellingError

    loaded = settings.load()
    engine = make_engine(loaded.database_url, loaded.database_schema or None)
    migrate(engine)
    try:
        with engine.begin() as conn:
            if args.action == "add":
                password = sys.stdin.readline().rstrip("\n") if args.password_stdin else secrets.token_urlsafe(12)
                accounts.create_annotator(conn, args.name, password, is_admin=args.admin)
                role = "admin" if args.admin else "annotator"
                print(f"created {role} {args.name}" + ("" if args.password_stdin else f" with password {password}"))
            else:
                row = accounts.find_annotator(conn, args.name)
                if row is None:
                    raise InputError(f"no annotator named {args.name!r}")
                print(accounts.issue_token(conn, row.id))
    except LabellingError as error:
        raise InputError(str(error)) from None
    finally:
        engine.dispose()
    return 0
