"""``foreshock db upgrade``: create or upgrade the relational store's tables."""

from __future__ import annotations

import argparse

from foreshock.db import make_engine, upgrade


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="relational store maintenance")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dsub.add_parser("upgrade", help="create or upgrade all tables (idempotent)")
    up.set_defaults(func=_upgrade)


def _upgrade(args, settings) -> int:
    engine = make_engine(settings.database_url)
    applied = upgrade(engine)
    url = engine.url.render_as_string(hide_password=True)
    if applied:
        print(f"database {url} upgraded (now at {', '.join(applied)}); it is up to date")
    else:
        print(f"database {url} is up to date (nothing to do)")
    return 0
