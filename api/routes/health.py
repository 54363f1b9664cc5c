"""Liveness, readiness and Prometheus metrics (outside ``/api/v1``, no token: scraped by infrastructure)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from api.deps import ContextDep
from api.metrics import detection_samples, external_text, open_counts, render_lines
from foreshock.db import db_reason
from foreshock.tsdb.httperrors import redact

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database, telemetry store, broker and other probes reachable",
            responses={503: {"description": "a dependency is unreachable"}})
def readyz(ctx: ContextDep) -> JSONResponse:
    checks: dict[str, str] = {}

    def db() -> None:
        with ctx.session_factory() as session:
            session.execute(text("SELECT 1"))

    probes = {"database": db}
    if ctx.store is not None:
        probes["telemetry_store"] = ctx.store.ping
    probes.update(ctx.probes)
    ok = True
    for name, probe in probes.items():
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure makes us not ready; report it
            ok = False
            # no token is needed here: a password in a URL the error names (http://user:pw@...) is masked
            # a database driver's own message, not SQLAlchemy's wrapping ("[SQL: ...]", "(Background on this
            # error at: https://...)", which the cut left half a link of)
            cause = getattr(exc, "orig", None) or exc
            checks[name] = redact(f"error: {type(cause).__name__}: {db_reason(exc)}")[:300]
            log.warning("readiness probe %s failed: %s", name, redact(str(exc)))
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(ctx: ContextDep, request: Request) -> PlainTextResponse:
    samples = (list(request.app.state.api_metrics.samples()) + request.app.state.event_streams.samples()
               + detection_samples(ctx.detection))
    try:
        with ctx.session_factory() as session:
            counts = open_counts(session)
    except Exception as exc:  # noqa: BLE001 - metrics must still render when the DB is down
        log.warning("cannot count open alerts/tickets: %s", exc)
        counts = {}
    if "alerts" in counts:
        samples.append(("foreshock_open_alerts", "gauge", "Alerts not yet resolved", {}, counts["alerts"]))
    if "tickets" in counts:
        samples.append(("foreshock_open_tickets", "gauge", "Tickets not yet closed", {}, counts["tickets"]))
    samples.append(("foreshock_sse_subscribers", "gauge", "Connected live-update streams", {},
                    ctx.events.subscribers))
    body = external_text(ctx.metrics) + render_lines(samples)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
