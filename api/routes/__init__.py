"""One router per resource, assembled by :func:`api_router` and mounted under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

__all__ = ["api_router", "api_routes", "required_role", "routers"]


def routers() -> list[APIRouter]:
    from api.routes import (
        alerts,
        complaints,
        corrective_actions,
        credentials,
        deadletters,
        events,
        maintenance,
        models,
        reports,
        telemetry,
        tickets,
        tokens,
        units,
    )

    return [units.router, units.devices_router, telemetry.router, credentials.router, models.router, alerts.router,
            maintenance.router, tickets.router, complaints.router, complaints.ticket_router,
            corrective_actions.router, reports.router, deadletters.router, events.router, tokens.router]


def _responses() -> dict:
    from api.schemas import Message

    return {
        400: {"model": Message, "description": "bad input (the message names the problem)"},
        401: {"model": Message, "description": "missing, invalid or revoked bearer token"},
        403: {"model": Message, "description": "the token's role is too low"},
        404: {"model": Message, "description": "no such unit, model, alert or ticket"},
        409: {"model": Message, "description": "conflict: already exists, or a ticket move the state machine forbids"},
        422: {"model": Message, "description": "request validation failed (`errors` lists each field)"},
        503: {"model": Message, "description": "a part of the product this route needs is not running"},
    }


def api_router() -> APIRouter:
    """Every resource's routes; each refuses a query parameter it does not declare, and a JSON body that gives a
    key twice, a NaN or Infinity or a lone surrogate (422 naming it: :mod:`api.jsonbody`)."""
    from fastapi import Depends

    from api.deps import refuse_unknown_query
    from api.jsonbody import refuse_bad_json

    router = APIRouter()
    checks = [Depends(refuse_unknown_query), Depends(refuse_bad_json)]
    for r in routers():
        router.include_router(r, responses=_responses(), dependencies=checks)
    return router


def required_role(route: APIRoute) -> str | None:
    """The role a route's dependencies demand (``None``: no token needed)."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        role = getattr(dep.call, "required_role", None)
        if role:
            return role
        stack.extend(dep.dependencies)
    return None


def api_routes() -> list[tuple[str, str, str | None]]:
    """(method, path below /api/v1, role) of every API route."""
    out: list[tuple[str, str, str | None]] = []
    for r in routers():
        for route in r.routes:
            if isinstance(route, APIRoute):
                out.extend((m, route.path, required_role(route)) for m in sorted(route.methods or ()))
    return out
