"""Every error is JSON: ``{"detail": "<message naming the problem>"}`` (validation errors add ``errors``)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["install_error_handlers", "ServiceMissing"]

log = logging.getLogger(__name__)


class ServiceMissing(Exception):
    """A part of the product this route needs is not running in this process."""

    def __init__(self, part: str) -> None:
        super().__init__(f"{part} is not available in this process")
        self.part = part


def _loc(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.method} {request.url.path}"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": _loc(tuple(e.get("loc", ()))), "msg": e.get("msg", "")} for e in exc.errors()]
        message = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors) or "invalid request"
        return JSONResponse({"detail": f"invalid request: {message}", "errors": errors}, status_code=422)

    @app.exception_handler(ServiceMissing)
    async def _missing(request: Request, exc: ServiceMissing) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(LookupError)
    async def _lookup(request: Request, exc: LookupError) -> JSONResponse:
        return JSONResponse({"detail": str(exc).strip("'\"")}, status_code=404)
