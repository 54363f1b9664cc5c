"""Typed dependencies: the context, a database session, the caller's token and role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.context import AppContext
from api.models import ApiToken
from api.tokens import role_at_least, verify_token
from foreshock.db import utcnow

__all__ = [
    "Admin",
    "ContextDep",
    "CurrentToken",
    "Engineer",
    "Page",
    "Service",
    "SessionDep",
    "Viewer",
    "require",
]

LAST_USED_RESOLUTION_S = 60.0
_bearer = HTTPBearer(auto_error=False, description="A token from `foreshock token create`")


def get_context(request: Request) -> AppContext:
    return request.app.state.context


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_session(ctx: ContextDep) -> Iterator[Session]:
    session = ctx.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def get_token(
    ctx: ContextDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiToken:
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})
    with ctx.session_factory() as session:
        tok = verify_token(session=session, token=creds.credentials)
        if tok is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token",
                                headers={"WWW-Authenticate": "Bearer"})
        now = utcnow()
        last = tok.last_used
        if last is not None and last.tzinfo is None:  # SQLite returns naive UTC
            last = last.replace(tzinfo=UTC)
        if last is None or (now - last).total_seconds() > LAST_USED_RESOLUTION_S:
            tok.last_used = now  # at most once a minute: no database write per request
            session.commit()
        session.expunge(tok)
        return tok


CurrentToken = Annotated[ApiToken, Depends(get_token)]


def require(role: str) -> Callable[[ApiToken], ApiToken]:
    """A dependency that lets through tokens of ``role`` or a higher one."""

    def check(tok: CurrentToken) -> ApiToken:
        if not role_at_least(tok.role, role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role} role; token {tok.name!r} is {tok.role}")
        return tok

    check.required_role = role  # type: ignore[attr-defined]  # read by the route-coverage test
    return check


Viewer = Annotated[ApiToken, Depends(require("viewer"))]
Service = Annotated[ApiToken, Depends(require("service"))]
Engineer = Annotated[ApiToken, Depends(require("engineer"))]
Admin = Annotated[ApiToken, Depends(require("admin"))]


class Page:
    """``limit``/``offset`` pagination (``limit`` 1..500)."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000, description="items to skip")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset


PageDep = Annotated[Page, Depends(Page)]
