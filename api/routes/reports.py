"""Reports: Pareto of failure modes and the TOP-5 (units, models, customers) by tickets.

Both count unit tickets (proactive and customer): a fleet quality problem ticket stands for unit
tickets already counted, so counting it too would count the same failures twice. The Pareto counts
either the tickets as the detectors (or the complaint) named them (``count=tickets``, what was warned
of) or the failures found on site (``count=failures``: no false alarm, a different fault under the
mode found; ``alerts.tickets.found_failure_mode``); the TOP-n gives both per key.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import AfterValidator, BaseModel
from sqlalchemy import case, func, select

from alerts.config import zone
from alerts.models import Ticket
from alerts.tickets import found_failure_mode
from api.deps import ContextDep, SessionDep, Viewer

router = APIRouter(prefix="/reports", tags=["reports"])

By = Literal["failure_mode", "model", "customer", "site", "device_id", "firmware", "batch"]


class ParetoBar(BaseModel):
    key: str
    count: int
    share: float
    cumulative: float


class Pareto(BaseModel):
    by: str
    count: str = "tickets"
    since: float
    until: float
    total: int
    bars: list[ParetoBar]


class TopItem(BaseModel):
    key: str
    tickets: int
    open: int
    critical: int
    failures: int = 0


class Top(BaseModel):
    by: str
    since: float
    until: float
    items: list[TopItem]


Days = Annotated[float, Query(gt=0, le=3650, allow_inf_nan=False, description="look back this many days")]


def _window(days: float) -> tuple[float, float]:
    until = time.time()
    return until - days * 86400, until


Count = Annotated[Literal["tickets", "failures"], Query(
    description="tickets: as the detectors or the complaint named them (what was warned of); failures: what was "
                "found on site (tickets judged false alarms left out, a different fault under the mode found)")]


@router.get("/pareto", response_model=Pareto,
            summary="Tickets (or failures found on site) per failure mode or other key, largest first")
def pareto(session: SessionDep, _: Viewer, by: Annotated[By, Query()] = "failure_mode", days: Days = 90,
           count: Count = "tickets") -> dict:
    since, until = _window(days)
    col = getattr(Ticket, by)
    if count == "tickets":
        rows = session.execute(select(col, func.count()).where(Ticket.kind == "unit", Ticket.opened_at >= since)
                               .group_by(col)).all()
    else:
        n_of: dict[Any, int] = {}
        for t in session.scalars(select(Ticket).where(Ticket.kind == "unit", Ticket.opened_at >= since)):
            found = found_failure_mode(t)
            if found is None:  # no fault found on site: no failure
                continue
            key = found if by == "failure_mode" else getattr(t, by)
            n_of[key] = n_of.get(key, 0) + 1
        rows = list(n_of.items())
    counted = sorted(((k or "(none)", int(n)) for k, n in rows), key=lambda kv: (-kv[1], str(kv[0])))
    total = sum(n for _, n in counted)
    bars, cum = [], 0
    for key, n in counted:
        cum += n
        bars.append({"key": str(key), "count": n, "share": n / total, "cumulative": cum / total})
    return {"by": by, "count": count, "since": since, "until": until, "total": total, "bars": bars}


@router.get("/top", response_model=Top, summary="TOP-n by tickets (default: the five units with most tickets)")
def top(session: SessionDep, _: Viewer, by: Annotated[By, Query()] = "device_id", days: Days = 90,
        n: Annotated[int, Query(ge=1, le=100)] = 5) -> dict:
    """Ranked by tickets; ``failures`` says how many of a key's tickets found a fault on site (any fault:
    the tickets judged false alarms are the difference)."""
    since, until = _window(days)
    col = getattr(Ticket, by)

    stmt = (select(col, func.count(), func.sum(case((Ticket.is_open, 1), else_=0)),
                   func.sum(case((Ticket.grade == "critical", 1), else_=0)))
            .where(Ticket.kind == "unit", Ticket.opened_at >= since).group_by(col))
    rows = [(k or "(none)", int(c), int(o or 0), int(cr or 0)) for k, c, o, cr in session.execute(stmt)]
    rows.sort(key=lambda r: (-r[1], -r[3], str(r[0])))
    rows = rows[:n]
    shown = {str(k) for k, *_ in rows}
    failures = dict.fromkeys(shown, 0)
    for t in session.scalars(select(Ticket).where(Ticket.kind == "unit", Ticket.opened_at >= since)):
        key = str(getattr(t, by) or "(none)")
        if key in shown and found_failure_mode(t) is not None:
            failures[key] += 1
    items = [{"key": str(k), "tickets": c, "open": o, "critical": cr, "failures": failures[str(k)]}
             for k, c, o, cr in rows]
    return {"by": by, "since": since, "until": until, "items": items}


def _month(v: str | None) -> str | None:
    from alerts.reports import check_month

    if v is not None:
        check_month(v)  # one 422 for '2026-13' and '0000-01' alike (the year range was a 400 from the report)
    return v


Month = Annotated[str | None, Query(description="YYYY-MM from 1970-01 to 2999-12, in `timezone` (default: the "
                                                "month it is now there)"),
                  AfterValidator(_month)]


def _zone_name(v: str | None) -> str | None:
    return None if v is None else zone(v).key


TimeZone = Annotated[str | None, Query(description="IANA time zone of the month's boundaries, e.g. Europe/Berlin "
                                                   "(default: the setting alerts.report_timezone, UTC unless set)"),
                     AfterValidator(_zone_name)]


def _monthly(ctx: ContextDep, month: str | None, timezone: str | None) -> dict[str, Any]:
    from alerts.reports import current_month, monthly_report

    timezone = timezone or ctx.settings.alerts.report_timezone
    return monthly_report(ctx.session_factory, month or current_month(timezone), timezone=timezone)


@router.get("/monthly", summary="The monthly quality report: counts, TOP-5, Pareto tables, MTTA/MTTR, SLA, precision")
def monthly(ctx: ContextDep, _: Viewer, month: Month = None, timezone: TimeZone = None) -> dict[str, Any]:
    return _monthly(ctx, month, timezone)


@router.get("/monthly.csv", summary="The monthly report as CSV",
            responses={200: {"content": {"text/csv": {}}, "description": "section,key,metric,value rows"}})
def monthly_csv(ctx: ContextDep, _: Viewer, month: Month = None, timezone: TimeZone = None) -> PlainTextResponse:
    from alerts.reports import report_csv

    return PlainTextResponse(report_csv(_monthly(ctx, month, timezone)), media_type="text/csv")
