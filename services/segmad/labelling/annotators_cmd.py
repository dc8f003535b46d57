"""`segmad annotators add NAME [--admin]` and `segmad annotators token NAME`: accounts from the shell."""

from __future__ import annotations

import secrets
import sys

from segmad.errors import InputError


def add_arguments(parser) -> None:
    """add NAME [--admin] [--password-stdin] | token NAME."""
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="create an annotator account")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may open and close campaigns, export")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from stdin (else one is generated and printed)")
    token = sub.add_parser("token", help="issue an API bearer token for scripts (printed once)")
    token.add_argument("name")


def run(args) -> int:
    """Create the account or token in the catalog named by the settings."""
    from segmad import settings
    from segmad.catalog.schema import metadata
    from segmad.labelling import accounts
    from segmad.catalog import make_engine
    from segmad.labelling.errors import LabellingError

    engine = make_engine(settings.load().database_url)
    metadata.create_all(engine)  # until the Alembic migration carries the labelling tables
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


