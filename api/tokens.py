"""Bearer tokens: create, verify, list, revoke (keyword-only service functions).

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

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ROLES, ApiToken
from foreshock.db import utcnow

__all__ = ["Conflict", "TokenError", "create_token", "is_active", "list_tokens", "new_secret", "revoke_token",
           "role_at_least", "verify_token"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_TOKEN = re.compile(r"fs_([a-z0-9]{8})_([A-Za-z0-9_-]{32,64})")


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


def create_token(*, session: Session, name: str, role: str) -> tuple[ApiToken, str]:
    """Store a new token and return it with its secret (shown once)."""
    if not _NAME.fullmatch(name or ""):
        raise TokenError(f"bad token name {name!r}: 1-64 letters, digits, '_', '.', '@', '-'")
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if session.scalar(select(ApiToken).where(ApiToken.name == name)) is not None:
        raise TokenError(f"a token named {name!r} already exists")
    secret = new_secret()
    prefix, _ = parse_secret(secret)
    tok = ApiToken(name=name, role=role, prefix=prefix, token_hash=_hash(secret), created=utcnow())
    session.add(tok)
    session.flush()
    return tok, secret


def verify_token(*, session: Session, token: str) -> ApiToken | None:
    """The active token matching ``token``, or ``None`` (compared in constant time)."""
    try:
        prefix, _ = parse_secret(token)
    except TokenError:
        return None
    tok = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if tok is None or not hmac.compare_digest(tok.token_hash, _hash(token)) or tok.revoked is not None:
        return None
    return tok


def is_active(*, session: Session, token_id: int) -> bool:
    """Whether the token with ``token_id`` still exists and is not revoked (long requests check again)."""
    tok = session.get(ApiToken, token_id)
    return tok is not None and tok.revoked is None


def list_tokens(*, session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.name)))


def revoke_token(*, session: Session, name: str) -> ApiToken:
    """Revoke the token ``name`` (again: no change); the last active admin token is refused (:class:`Conflict`)."""
    tok = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if tok is None:
        raise TokenError(f"no token named {name!r}")
    if tok.revoked is None:
        if tok.role == "admin":
            # FOR UPDATE: two admins revoking each other at once wait in turn, so one of them is refused
            admins = session.scalars(
                select(ApiToken.id).where(ApiToken.role == "admin", ApiToken.revoked.is_(None)).with_for_update()
            ).all()
            if admins == [tok.id]:
                raise Conflict(f"token {name!r} is the last active admin token: revoking it would lock every "
                               "admin out; create another admin token first (foreshock token create --role admin)")
        tok.revoked = utcnow()
    return tok
