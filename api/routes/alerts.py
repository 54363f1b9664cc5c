"""Alerts: list with filters, detail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PageDep, SessionDep, Viewer
from api.rows import get_one, mapped, page, to_dict
from api.schemas import AlertPublic, ListPublic

router = APIRouter(prefix="/alerts", tags=["alerts"])


def _alert_model() -> type:
    return mapped("alerts.models", "Alert")


@router.get("", response_model=ListPublic[AlertPublic], summary="List alerts, newest first")
def list_alerts(
    session: SessionDep, _: Viewer, pg: PageDep,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=20, description="e.g. open, acknowledged, resolved")] = None,
    severity: Annotated[str | None, Query(max_length=20)] = None,
    failure_mode: Annotated[str | None, Query(max_length=40)] = None,
) -> dict:
    data, count = page(
        session, _alert_model(),
        filters={"device_id": device_id, "state": state, "status": state, "severity": severity,
                 "failure_mode": failure_mode},
        limit=pg.limit, offset=pg.offset,
    )
    return {"data": data, "count": count}


@router.get("/{alert_id}", response_model=AlertPublic, summary="One alert")
def get_alert(alert_id: int, session: SessionDep, _: Viewer) -> dict:
    return to_dict(get_one(session, _alert_model(), "id", alert_id, "alert"))
