"""Quality tickets: list with filters, detail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PageDep, SessionDep, Viewer
from api.rows import get_one, mapped, page, to_dict
from api.schemas import ListPublic, TicketPublic

router = APIRouter(prefix="/tickets", tags=["tickets"])


def _ticket_model() -> type:
    return mapped("alerts.models", "Ticket")


@router.get("", response_model=ListPublic[TicketPublic], summary="List tickets, newest first")
def list_tickets(
    session: SessionDep, _: Viewer, pg: PageDep,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
    assignee: Annotated[str | None, Query(max_length=100)] = None,
    grade: Annotated[str | None, Query(max_length=10)] = None,
) -> dict:
    data, count = page(
        session, _ticket_model(),
        filters={"device_id": device_id, "state": state, "status": state, "assignee": assignee, "grade": grade},
        limit=pg.limit, offset=pg.offset,
    )
    return {"data": data, "count": count}


@router.get("/{ticket_id}", response_model=TicketPublic, summary="One ticket")
def get_ticket(ticket_id: int, session: SessionDep, _: Viewer) -> dict:
    return to_dict(get_one(session, _ticket_model(), "id", ticket_id, "ticket"))
