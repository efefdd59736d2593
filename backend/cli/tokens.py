"""`reglab token create|ls|revoke`: an admin tool that talks to the database directly.

It reads the same REGLAB_* settings as `reglab up` (REGLAB_DATABASE_URL, or the
SQLite file under REGLAB_DATA_DIR), so it works before any token exists.
"""

from __future__ import annotations

import argparse

from backend.auth.scopes import SCOPES
from reglab.cli.common import table
from reglab.cli.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    token = subparsers.add_parser("token", help="create, list and revoke API tokens (talks to the database directly)")
    commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = commands.add_parser(
        "create", help="create a token and print it once, alone on the last line",
        description="Create a token. Its secret is printed once, alone on the last line; only its hash is stored.",
    )  # fmt: skip
    create.add_argument("--name", required=True, help="a label, e.g. the person or machine using it")
    create.add_argument("--scope", required=True, choices=SCOPES, help="read < write < admin; worker: trainer routes only")
    create.set_defaults(func=cmd_token_create)
    ls = commands.add_parser("ls", help="list tokens (never their secrets)")
    ls.set_defaults(func=cmd_token_ls)
    revoke = commands.add_parser("revoke", help="revoke a token by id, or every active token with a name")
    revoke.add_argument("token", metavar="NAME|ID")
    revoke.set_defaults(func=cmd_token_revoke)


def _session():
    from backend.db import get_sessionmaker
    from backend.migrate import upgrade_head

    upgrade_head()
    return get_sessionmaker()()


def cmd_token_create(args) -> int:
    from backend.auth.service import TokenError, create_token

    with _session() as session:
        try:
            token, secret = create_token(session, args.name, args.scope)
        except TokenError as exc:
            raise UsageError(str(exc)) from None
        print(f"token {token.id} {token.name!r} (scope {token.scope}) created; it is shown only now:")
    print(secret)
    return 0


def cmd_token_ls(_args) -> int:
    from backend.auth.service import list_tokens
    from backend.timeutil import iso

    with _session() as session:
        rows = [
            [t.id, t.name, t.scope, iso(t.created_at), iso(t.last_used_at) or "never", iso(t.revoked_at) or "active"]
            for t in list_tokens(session)
        ]
    print(table(rows, ["ID", "NAME", "SCOPE", "CREATED", "LAST_USED", "REVOKED"]))
    return 0


def cmd_token_revoke(args) -> int:
    from backend.auth.service import TokenError, revoke_tokens

    with _session() as session:
        try:
            tokens = revoke_tokens(session, args.token)
        except TokenError as exc:
            raise UsageError(str(exc)) from None
        for token in tokens:
            print(f"token {token.id} {token.name!r} revoked")
    return 0
