"""Bearer tokens: create, verify, list, revoke (keyword-only service functions).

A token may be given a lifetime in whole days when it is created (``expires_in_days``, 1 to
:data:`MAX_LIFETIME_DAYS`); without one it never expires. An expired token is refused like a
revoked one, and is not an *active* token: it does not count as an admin when the last active
admin token is about to be revoked.

>>> secret = new_secret()
>>> parse_secret(secret)[0] == secret.split("_")[1]
True
>>> parse_secret("nope")
Traceback (most recent call last):
...
api.tokens.TokenError: malformed token: expected fs_<prefix>_<secret>
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.models import ROLES, ApiToken
from foreshock.db import utcnow

__all__ = ["MAX_LIFETIME_DAYS", "Conflict", "TokenError", "create_token", "expired", "expiry_text", "find_token",
           "is_active", "lifetime", "list_tokens", "new_secret", "revoke_token", "role_at_least", "utc", "verify_token"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_TOKEN = re.compile(r"fs_([a-z0-9]{8})_([A-Za-z0-9_-]{32,64})")
MAX_LIFETIME_DAYS = 3650


class TokenError(ValueError):
    """Bad token input; the message names the problem."""


class Conflict(TokenError):
    """The change would leave the tokens in a state that locks everyone out (the API answers 409)."""


def new_secret() -> str:
    return f"fs_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def parse_secret(token: str) -> tuple[str, str]:
    m = _TOKEN.fullmatch(token.strip())
    if not m:
        raise TokenError("malformed token: expected fs_<prefix>_<secret>")
    return m.group(1), m.group(2)


def _hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def role_at_least(role: str, needed: str) -> bool:
    """``True`` when ``role`` may do what ``needed`` may (roles are ordered viewer < service < engineer < admin).

    >>> role_at_least("admin", "service"), role_at_least("viewer", "service")
    (True, False)
    """
    return ROLES.index(role) >= ROLES.index(needed)


def utc(d: datetime | None) -> datetime | None:
    """``d`` as an aware UTC datetime (SQLite returns naive datetimes: they were written in UTC)."""
    return d.replace(tzinfo=UTC) if d is not None and d.tzinfo is None else d


def lifetime(days: object) -> timedelta | None:
    """The lifetime ``expires_in_days`` asks for (``None``: never expires).

    >>> lifetime(90), lifetime(None)
    (datetime.timedelta(days=90), None)
    >>> lifetime(0)
    Traceback (most recent call last):
    ...
    api.tokens.TokenError: expires_in_days must be a whole number of days from 1 to 3650, got 0
    """
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_LIFETIME_DAYS:
        raise TokenError(f"expires_in_days must be a whole number of days from 1 to {MAX_LIFETIME_DAYS}, got {days!r}")
    return timedelta(days=days)


def expired(tok: ApiToken, now: datetime | None = None) -> bool:
    """Whether ``tok`` has an expiry and it has passed."""
    return tok.expires is not None and utc(tok.expires) <= (now or utcnow())


def expiry_text(tok: ApiToken) -> str:
    """When ``tok`` expires (ISO 8601, UTC, to the second), or ``never``.

    >>> expiry_text(ApiToken(expires=datetime(2027, 2, 20, 9, 30, 5, 123)))
    '2027-02-20T09:30:05Z'
    """
    d = utc(tok.expires)
    return "never" if d is None else d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_token(*, session: Session, name: str, role: str,
                 expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Store a new token and return it with its secret (shown once); ``expires_in_days``: its lifetime."""
    if not _NAME.fullmatch(name or ""):
        raise TokenError(f"bad token name {name!r}: 1-64 letters, digits, '_', '.', '@', '-'")
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    life = lifetime(expires_in_days)
    if session.scalar(select(ApiToken).where(ApiToken.name == name)) is not None:
        raise TokenError(f"a token named {name!r} already exists")
    secret = new_secret()
    prefix, _ = parse_secret(secret)
    now = utcnow()
    tok = ApiToken(name=name, role=role, prefix=prefix, token_hash=_hash(secret), created=now,
                   expires=None if life is None else now + life)
    session.add(tok)
    try:
        session.flush()
    except IntegrityError as exc:
        # another admin created the same name since the look above (the unique index caught it): the same
        # answer as when it was there before, not a 500; the caller's transaction is rolled back as for any error
        if "prefix" in str(exc.orig):
            raise
        raise TokenError(f"a token named {name!r} already exists") from None
    return tok, secret


def find_token(*, session: Session, token: str) -> ApiToken | None:
    """The token whose secret is ``token``, revoked or expired ones too, or ``None`` (compared in constant
    time). Who presents the right secret of an expired token may be told so; anyone else learns nothing."""
    try:
        prefix, _ = parse_secret(token)
    except TokenError:
        return None
    tok = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if tok is None or not hmac.compare_digest(tok.token_hash, _hash(token)):
        return None
    return tok


def verify_token(*, session: Session, token: str) -> ApiToken | None:
    """The active token matching ``token`` (not revoked, not expired), or ``None``."""
    tok = find_token(session=session, token=token)
    if tok is None or tok.revoked is not None or expired(tok):
        return None
    return tok


def is_active(*, session: Session, token_id: int) -> bool:
    """Whether the token with ``token_id`` still exists and is neither revoked nor expired (long requests check
    again)."""
    tok = session.get(ApiToken, token_id)
    return tok is not None and tok.revoked is None and not expired(tok)


def list_tokens(*, session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.name)))


def revoke_token(*, session: Session, name: str) -> ApiToken:
    """Revoke the token ``name`` (again: no change); the last active admin token is refused (:class:`Conflict`).

    Active means neither revoked nor expired: an expired admin token may be revoked whatever else exists, and
    an admin token is the last active one when every other admin token is revoked or expired."""
    tok = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if tok is None:
        raise TokenError(f"no token named {name!r}")
    if tok.revoked is None:
        if tok.role == "admin" and not expired(tok):
            # FOR UPDATE: two admins revoking each other at once wait in turn, so one of them is refused
            now = utcnow()
            admins = [t.id for t in session.scalars(
                select(ApiToken).where(ApiToken.role == "admin", ApiToken.revoked.is_(None)).with_for_update()
            ).all() if not expired(t, now)]
            if admins == [tok.id]:
                raise Conflict(f"token {name!r} is the last active admin token: revoking it would lock every "
                               "admin out; create another admin token first (foreshock token create --role admin)")
        tok.revoked = utcnow()
    return tok
