"""``foreshock token create|list|revoke``: API bearer tokens (the secret is printed once)."""

from __future__ import annotations

import argparse

from api.models import ROLES
from api.tokens import TokenError, create_token, list_tokens, revoke_token
from foreshock.db import make_engine, migrate, session_factory, session_scope

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="API bearer tokens")
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    c = tsub.add_parser("create", help="create a token and print it (once)")
    c.add_argument("--name", required=True, help="who or what uses it, e.g. alice or grafana")
    c.add_argument("--role", required=True, choices=ROLES, help="viewer < service < engineer < admin")
    c.set_defaults(func=_create)
    ls = tsub.add_parser("list", help="list tokens (never their secrets)")
    ls.add_argument("--all", action="store_true", help="include revoked tokens")
    ls.set_defaults(func=_list)
    r = tsub.add_parser("revoke", help="revoke a token by name")
    r.add_argument("name")
    r.set_defaults(func=_revoke)


def _factory(settings):
    engine = make_engine(settings.database_url)
    migrate(engine)
    return session_factory(engine)


def _create(args, settings) -> int:
    from foreshock.cli import CliError

    try:
        with session_scope(_factory(settings)) as session:
            tok, secret = create_token(session=session, name=args.name, role=args.role)
    except TokenError as exc:
        raise CliError(str(exc)) from None
    print(secret)
    import sys

    print(f"token {tok.name!r} ({tok.role}) created; it is shown only this once", file=sys.stderr)
    return 0


def _list(args, settings) -> int:
    with session_scope(_factory(settings)) as session:
        tokens = [t for t in list_tokens(session=session) if args.all or t.revoked is None]
        print(f"{'NAME':<24} {'ROLE':<9} {'CREATED':<20} {'LAST USED':<20} REVOKED")
        for t in tokens:
            fmt = lambda d: d.strftime("%Y-%m-%d %H:%M:%S") if d else "-"
            print(f"{t.name:<24} {t.role:<9} {fmt(t.created):<20} {fmt(t.last_used):<20} {fmt(t.revoked)}")
    return 0


def _revoke(args, settings) -> int:
    from foreshock.cli import CliError

    try:
        with session_scope(_factory(settings)) as session:
            revoke_token(session=session, name=args.name)
    except TokenError as exc:
        raise CliError(str(exc)) from None
    print(f"token {args.name!r} revoked")
    return 0
