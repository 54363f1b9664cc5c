"""Typed dependencies: the context, a database session, the caller's token and role checks, and the
refusal of query parameters a route does not declare."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from datetime import UTC
from types import UnionType
from typing import Annotated, Union, get_args, get_origin

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.context import AppContext
from api.models import ApiToken
from api.tokens import expired, expiry_text, find_token, role_at_least
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
    "refuse_unknown_query",
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
        tok = find_token(session=session, token=creds.credentials)
        if tok is None or tok.revoked is not None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token",
                                headers={"WWW-Authenticate": "Bearer"})
        if expired(tok):  # told only to whoever holds the right secret
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                f"token {tok.name!r} expired at {expiry_text(tok)}; ask an admin for a new one",
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
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


def takes_several(annotation: object) -> bool:
    """Whether a query parameter of this type takes several values (``?kinds=a&kinds=b``).

    >>> takes_several(list[str] | None), takes_several(Annotated[set[int], "x"]), takes_several(str | None)
    (True, True, False)
    """
    origin = get_origin(annotation)
    if origin is Annotated:
        return takes_several(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return any(takes_several(a) for a in get_args(annotation))
    return (origin or annotation) in (list, set, frozenset, tuple)


def declared_query_params(route) -> dict[str, bool]:
    """The query parameters ``route`` reads, its own and its dependencies' (``Page``: limit, offset), each
    with whether it takes several values.

    >>> from fastapi.routing import APIRoute
    >>> Kinds = Annotated[list[str] | None, Query()]
    >>> def listing(pg: PageDep, device_id: str | None = None, kinds: Kinds = None) -> None: ...
    >>> sorted(declared_query_params(APIRoute("/x", listing)).items())
    [('device_id', False), ('kinds', True), ('limit', False), ('offset', False)]
    """
    cached = getattr(route, "_declared_query_params", None)
    if cached is not None:
        return cached
    from pydantic import BaseModel

    names: dict[str, bool] = {}
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        for f in dep.query_params:
            model = f.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):  # a model of query parameters
                names.update((m.alias or n, takes_several(m.annotation))
                             for n, m in model.model_fields.items())
            else:
                names[f.alias] = takes_several(model)
        stack.extend(dep.dependencies)
    route._declared_query_params = names
    return names


def refuse_unknown_query(request: Request, _: CurrentToken) -> None:
    """422 naming every query parameter the matched route does not declare, with the ones it accepts, and
    every one given more than once that takes one value.

    A misspelt filter (``?device=`` for ``?device_id=``) was ignored: the answer was the unfiltered list;
    ``?limit=2&limit=3`` silently used the last value. Installed once for every /api/v1 route
    (:func:`api.routes.api_router`); it runs after the token is checked, so a caller without a valid token
    still gets 401 and learns nothing about the route.
    """
    route = request.scope.get("route")
    if route is None or not hasattr(route, "dependant"):
        return
    declared = declared_query_params(route)
    given = list(dict.fromkeys(request.query_params.keys()))
    unknown = [k for k in given if k not in declared]
    repeated = [k for k in given
                if k in declared and not declared[k] and len(request.query_params.getlist(k)) > 1]
    if not unknown and not repeated:
        return
    where = f"{request.method} {request.url.path}"
    accepts = f"accepts {', '.join(sorted(declared))}" if declared else "takes no query parameters"
    errors = []
    for name in unknown:
        near = difflib.get_close_matches(name, sorted(declared), n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        errors.append({"type": "extra_forbidden", "loc": ("query", name),
                       "msg": f"unknown query parameter {name!r}{hint}; {where} {accepts}",
                       "input": request.query_params.get(name)})
    for name in repeated:
        values = request.query_params.getlist(name)
        errors.append({"type": "too_long", "loc": ("query", name),
                       "msg": f"query parameter {name!r} given {len(values)} times; it takes one value",
                       "input": values})
    raise RequestValidationError(errors)
