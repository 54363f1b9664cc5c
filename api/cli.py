"""``foreshock token create|list|revoke``: API bearer tokens (the secret is printed once)."""

from __future__ import annotations

import argparse

from api.models import ROLES
from api.tokens import (
    MAX_LIFETIME_DAYS,
    TokenError,
    create_token,
    expired,
    expiry_text,
    lifetime,
    list_tokens,
    revoke_token,
)
from foreshock.db import make_engine, migrate, session_factory, session_scope

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="API bearer tokens")
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    c = tsub.add_parser("create", help="create a token and print it (once)")
    c.add_argument("--name", required=True, help="who or what uses it, e.g. alice or grafana")
    c.add_argument("--role", required=True, choices=ROLES, help="viewer < service < engineer < admin")
    c.add_argument("--expires-in-days", type=_days, metavar="DAYS",
                   help=f"the token stops working this many days from now (1-{MAX_LIFETIME_DAYS}); "
                        "without it the token never expires")
    c.set_defaults(func=_create)
    ls = tsub.add_parser("list", help="list active tokens (never their secrets)")
    ls.add_argument("--all", action="store_true", help="include revoked and expired tokens")
    ls.set_defaults(func=_list)
    r = tsub.add_parser("revoke", help="revoke a token by name")
    r.add_argument("name")
    r.set_defaults(func=_revoke)


def _days(text: str) -> int:
    """``--expires-in-days``: a whole number of days (argparse reports the message as a usage error)."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of days from 1 to {MAX_LIFETIME_DAYS}, "
                                         f"got {text!r}") from None
    try:
        lifetime(days)
    except TokenError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("expires_in_days must be", "expected")) from None
    return days


def _factory(settings):
    engine = make_engine(settings.database_url)
    migrate(engine)
    return session_factory(engine)


def _create(args, settings) -> int:
    from foreshock.cli import CliError

    try:
        with session_scope(_factory(settings)) as session:
            tok, secret = create_token(session=session, name=args.name, role=args.role,
                                       expires_in_days=args.expires_in_days)
    except TokenError as exc:
        raise CliError(str(exc)) from None
    print(secret)
    import sys

    until = "" if tok.expires is None else f", valid until {expiry_text(tok)}"
    print(f"token {tok.name!r} ({tok.role}) created{until}; it is shown only this once", file=sys.stderr)
    return 0


def _list(args, settings) -> int:
    with session_scope(_factory(settings)) as session:
        tokens = [t for t in list_tokens(session=session) if args.all or (t.revoked is None and not expired(t))]
        print(f"{'NAME':<24} {'ROLE':<9} {'CREATED':<20} {'LAST USED':<20} {'EXPIRES':<30} REVOKED")
        for t in tokens:
            fmt = lambda d: d.strftime("%Y-%m-%d %H:%M:%S") if d else "-"
            expires = "never" if t.expires is None else fmt(t.expires) + (" (expired)" if expired(t) else "")
            print(f"{t.name:<24} {t.role:<9} {fmt(t.created):<20} {fmt(t.last_used):<20} {expires:<30} "
                  f"{fmt(t.revoked)}")
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
