"""Alerts: list with filters (newest first), detail, acknowledge."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict
from sqlalchemy import select

from alerts.models import Alert, Ticket
from alerts.tickets import failure_mode_name
from api.deps import ContextDep, PageDep, Service, SessionDep, Viewer
from api.errors import ServiceMissing
from api.routes.units import serial_filter
from api.rows import page_query
from api.schemas import ListPublic
from detectors.types import FAILURE_MODES

router = APIRouter(prefix="/alerts", tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the alert's id")]  # beyond: a 422, not a 500
ALERT_MODES = (*FAILURE_MODES, "silent")


def _alert_mode(v: str | None) -> str | None:
    """``Outer race`` is ``outer_race``; a misspelt mode is refused with the names (it matched no alert, and
    the empty list read as "no such alert")."""
    return None if v is None else failure_mode_name(v, names=ALERT_MODES)


FailureMode = Annotated[str | None, Query(max_length=64, description=f"one of {', '.join(ALERT_MODES)}"),
                        AfterValidator(_alert_mode)]


class AlertPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    device_id: str
    failure_mode: str
    severity: str
    grade: str
    status: str
    flapping: bool = False
    raised_at: str | None = None
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    cleared_at: str | None = None
    ticket: str | None = None
    detail: dict[str, Any] = {}


def alerts_of(ctx) -> Any:
    if ctx.alerts is None:
        raise ServiceMissing("the alert service")
    return ctx.alerts


def _public(alert: Any, number: str | None) -> dict[str, Any]:
    from alerts.desk import alert_dict

    return alert_dict(alert, number)


@router.get("", response_model=ListPublic[AlertPublic], summary="List alerts, newest first")
def list_alerts(
    ctx: ContextDep, session: SessionDep, _: Viewer, pg: PageDep,
    device_id: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[Literal["open", "cleared"] | None, Query()] = None,
    severity: Annotated[Literal["watch", "warning", "alarm", "silent"] | None, Query()] = None,
    failure_mode: FailureMode = None,
    acknowledged: Annotated[bool | None, Query(description="only (un)acknowledged alerts")] = None,
) -> dict:
    device_id = serial_filter(ctx, device_id)  # p-0001 is unit P-0001, whose alerts are stored as registered
    stmt = select(Alert, Ticket.number).outerjoin(Ticket, Ticket.id == Alert.ticket_id)
    for col, value in (("device_id", device_id), ("status", status), ("severity", severity),
                       ("failure_mode", failure_mode)):
        if value is not None:
            stmt = stmt.where(getattr(Alert, col) == value)
    if acknowledged is not None:
        ack = Alert.acknowledged_at
        stmt = stmt.where(ack.is_not(None) if acknowledged else ack.is_(None))
    stmt = stmt.order_by(Alert.raised_at.desc(), Alert.id.desc())
    rows, count = page_query(session, stmt, limit=pg.limit, offset=pg.offset)
    return {"data": [_public(a, n) for a, n in rows], "count": count}


@router.get("/{alert_id}", response_model=AlertPublic, summary="One alert")
def get_alert(alert_id: AlertId, session: SessionDep, _: Viewer) -> dict:
    row = session.execute(select(Alert, Ticket.number).outerjoin(Ticket, Ticket.id == Alert.ticket_id)
                          .where(Alert.id == alert_id)).first()
    if row is None:
        raise LookupError(f"no alert {alert_id}")
    return _public(*row)


@router.post("/{alert_id}/ack", response_model=AlertPublic, summary="Acknowledge an alert (answers its ticket's response clock)")
def ack_alert(alert_id: AlertId, ctx: ContextDep, tok: Service) -> dict:
    out = alerts_of(ctx).ack_alert(alert_id, actor=tok.name)
    ctx.events.publish("alert", {"kind": "alert_acknowledged", "alert_id": alert_id, "by": tok.name,
                                 "device_id": out.get("device_id"), "ticket": out.get("ticket")})
    return out
