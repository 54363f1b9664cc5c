"""Every error is JSON: ``{"detail": "<message naming the problem>"}`` (validation errors add ``errors``)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ServiceMissing", "install_error_handlers"]

log = logging.getLogger(__name__)


class ServiceMissing(Exception):
    """A part of the product this route needs is not running in this process."""

    def __init__(self, part: str) -> None:
        super().__init__(f"{part} is not available in this process")
        self.part = part


def _loc(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "request"


def _error(e: dict, content_type: str = "",
           needs: tuple[str, list[str]] = ("application/json", [])) -> dict[str, str]:
    """One validation error as ``{loc, msg}``; a body that is not JSON says so and where, a missing one what it needs
    (``needs``: the body's media type and required fields)."""
    if tuple(e.get("loc", ())) == ("body",) and e.get("type") == "missing":
        # it said "request: Field required", naming neither the body nor what goes in it
        media_type, fields = needs
        if media_type != "application/json":
            return {"loc": "body", "msg": f"missing: this request needs a body, sent with Content-Type: {media_type}"}
        with_fields = f" (with {', '.join(fields)})" if fields else ""
        return {"loc": "body", "msg": f"missing: this request needs a JSON object{with_fields}, sent with "
                                      "Content-Type: application/json"}
    if e.get("type") == "json_invalid":
        loc = tuple(e.get("loc", ()))
        where = f" (at character {loc[1]})" if len(loc) > 1 and isinstance(loc[1], int) else ""
        reason = (e.get("ctx") or {}).get("error") or e.get("msg", "")
        return {"loc": "body", "msg": f"not valid JSON: {reason}{where}"}
    if tuple(e.get("loc", ())) == ("body",) and e.get("type") == "model_attributes_type":
        # FastAPI reads a body as JSON only when it is labelled so (curl -d sends a form's type): it said
        # "request: Input should be a valid dictionary", naming neither the body nor the header
        if isinstance(e.get("input"), (bytes, bytearray)):
            return {"loc": "body", "msg": "not read as JSON: send it with Content-Type: application/json "
                                          f"(got {content_type or 'none'!r})"}
        return {"loc": "body", "msg": f"expected a JSON object, got {_json_type(e.get('input'))}"}
    return {"loc": _loc(tuple(e.get("loc", ()))), "msg": str(e.get("msg", "")).removeprefix("Value error, ")}


def _body_needs(request: Request) -> tuple[str, list[str]]:
    """The media type of the matched route's body and, for a JSON object, its required fields in their order."""
    from pydantic import BaseModel

    info = getattr(getattr(request.scope.get("route"), "body_field", None), "field_info", None)
    media_type = getattr(info, "media_type", None) or "application/json"
    model = getattr(info, "annotation", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return media_type, []
    return media_type, [f.alias or name for name, f in model.model_fields.items() if f.is_required()]


def _json_type(v: object) -> str:
    names = {list: "an array", str: "a string", bool: "true or false", int: "a number", float: "a number"}
    return "null" if v is None else names.get(type(v), type(v).__name__)


def _message(exc: Exception) -> str:
    """The text of a domain error; a KeyError's own message, without the quotes ``str(KeyError)`` adds."""
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]
    return str(exc)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some /api/v1 route takes on this path."""
    from starlette.routing import compile_path

    from api.app import API_PREFIX
    from api.routes import api_routes

    path = request.url.path
    return sorted({m for m, p, _ in api_routes() if compile_path(API_PREFIX + p)[0].match(path)} - {"HEAD"})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.method} {request.url.path}"
        elif exc.status_code == 400 and detail == "There was an error parsing the body":
            cause = exc.__cause__  # FastAPI's message for any error while reading the body: name the ones we know
            if isinstance(cause, RecursionError):
                detail = "invalid request: body: JSON nested too deeply (Python's parser gives up near 1000 levels)"
            elif cause is not None:
                detail = f"invalid request: body cannot be read: {type(cause).__name__}: {cause}"[:300]
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            allowed = _allowed_methods(request)  # Starlette's Allow header names only the first route's
            detail = f"{request.method} is not allowed on {request.url.path}" + (
                f" (allowed: {', '.join(allowed)})" if allowed else "")
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        needs = _body_needs(request)
        errors = [_error(e, request.headers.get("content-type", ""), needs) for e in exc.errors()]
        message = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors) or "invalid request"
        return JSONResponse({"detail": f"invalid request: {message}", "errors": errors}, status_code=422)

    @app.exception_handler(ServiceMissing)
    async def _missing(request: Request, exc: ServiceMissing) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    async def _domain(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": _message(exc)}, status_code=domain_status(exc))

    app.add_exception_handler(ValueError, _domain)
    app.add_exception_handler(LookupError, _domain)

    from foreshock.tsdb import StoreError, StoreUnavailable
    from foreshock.tsdb.base import StoreAccessDenied
    from foreshock.tsdb.httperrors import redact

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        # a read of the telemetry store (series, spectrum, evidence) that failed: not this server's bug
        # (a bare 500 and a traceback), but the store's state, named; the rest of the API still answers
        message = redact(str(exc)).splitlines()[0][:300] if str(exc) else type(exc).__name__
        log.warning("telemetry store failed for %s %s: %s", request.method, request.url.path, message)
        if isinstance(exc, StoreAccessDenied):  # a setting to correct: no use retrying in 30 s
            return JSONResponse({"detail": f"the telemetry store refused this server's access: {message}; check the "
                                 "telemetry settings' user and password or token, and that the user may read"},
                                status_code=503)
        if isinstance(exc, StoreUnavailable):
            return JSONResponse({"detail": f"the telemetry store is unavailable: {message}"}, status_code=503,
                                headers={"Retry-After": "30"})
        return JSONResponse({"detail": f"the telemetry store refused the query: {message}"}, status_code=502)

    from sqlalchemy.exc import DataError, IntegrityError

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # two requests creating the same thing at once (a model, a token, a unit of one name): both looked for it
        # before either wrote, and the database's unique index refused the second. That is the conflict the
        # service names when it comes second ("already exists"), not a server error; anything else is a bug
        if not _unique_violation(exc):
            raise exc
        log.info("unique index refused %s %s: %s", request.method, request.url.path, exc.orig)
        return JSONResponse({"detail": f"conflict with a change made at the same moment: {_conflict(exc)}; nothing "
                                       "was stored, look again before you retry"}, status_code=409)

    from foreshock.db import DB_UNAVAILABLE, db_reason

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # the database cannot be reached (a cut link, a restart, a full pool): a 500 and a traceback per
        # request read as a bug; it is the database's state, named, and the client may retry
        message = redact(db_reason(exc))[:200]
        log.warning("database unavailable for %s %s: %s", request.method, request.url.path, message)
        return JSONResponse({"detail": f"the database is unavailable: {message}"}, status_code=503,
                            headers={"Retry-After": "10"})

    for exc_type in DB_UNAVAILABLE:
        app.add_exception_handler(exc_type, _database)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # e.g. a NUL character, which PostgreSQL text cannot hold: the input is at fault, not the server
        log.info("database refused a value for %s %s: %s", request.method, request.url.path, exc.orig)
        return JSONResponse({"detail": f"invalid request: a value cannot be stored or compared ({exc.orig})"[:500]},
                            status_code=422)

    @app.middleware("http")
    async def _nul(request: Request, call_next):
        bad = sorted({k for k, v in request.query_params.multi_items() if "\x00" in k or "\x00" in v})
        if bad:
            return JSONResponse({"detail": f"invalid request: query parameter {', '.join(bad)} contains a NUL "
                                           "character"}, status_code=422)
        return await call_next(request)


def _unique_violation(exc: Exception) -> bool:
    """Whether a database's IntegrityError is a unique index's (PostgreSQL SQLSTATE 23505, SQLite's message)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


def _conflict(exc: Exception) -> str:
    r"""What the unique index says: PostgreSQL's ``Key (name)=(X-1) already exists.``, SQLite's
    ``UNIQUE constraint failed: device_models.name``.

    >>> class E(Exception): ...
    >>> e = E()
    >>> e.orig = 'duplicate key value violates unique constraint "uq"\nDETAIL:  Key (name)=(X-1) already exists.'
    >>> _conflict(e)
    'Key (name)=(X-1) already exists'
    """
    lines = [ln.strip() for ln in str(getattr(exc, "orig", exc)).splitlines() if ln.strip()]
    detail = next((ln.removeprefix("DETAIL:").strip() for ln in lines if ln.startswith("DETAIL:")), None)
    return (detail or (lines[0] if lines else "a duplicate")).rstrip(".")[:300]


def domain_status(exc: Exception) -> int:
    """HTTP status of an error raised by another part's service (registry, alert desk, token store).

    >>> class NotFound(ValueError, LookupError): ...
    >>> class AlreadyExists(ValueError): ...
    >>> domain_status(NotFound()), domain_status(AlreadyExists()), domain_status(ValueError())
    (404, 409, 400)
    >>> domain_status(ValueError("no ticket 'PF-1'"))
    404

    A subclass is answered as its base (``AlreadyOpen(TicketError)``, a reopen refused beside a newer open
    ticket, is a 409 like every refused ticket move):

    >>> class TicketError(ValueError): ...
    >>> class AlreadyOpen(TicketError): ...
    >>> domain_status(AlreadyOpen("ticket PF-1 cannot be reopened"))
    409
    """
    if isinstance(exc, LookupError) or str(exc).startswith("no "):
        return 404
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"AlreadyExists", "Conflict", "TicketError"} or "already exists" in str(exc):
        return 409
    return 400
