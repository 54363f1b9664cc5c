"""Quality tickets (by PF number): list, detail with audit trail, move, assign, comment, 8D, closure feedback
(and its withdrawal).

Every change goes through the alert service's ticket desk, which checks the state machine and
records who did what; the change is also published on the live event stream.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select

from alerts.models import Ticket
from alerts.tickets import (
    COMMENT_MAX_CHARS,
    EIGHT_D_MAX_CHARS,
    EMPTY_8D,
    TicketError,
    eight_d_size,
    empty_8d,
    field_failure_mode,
)
from api.deps import ContextDep, PageDep, Service, SessionDep, Viewer
from api.routes.alerts import alerts_of
from api.routes.units import serial_filter
from api.rows import page_query
from api.schemas import ListPublic

router = APIRouter(prefix="/tickets", tags=["tickets"])

Status = Literal["received", "triaged", "investigating", "action_taken", "verifying", "closed", "reopened"]
Number = Annotated[str, Field(min_length=1, max_length=32)]


class TicketPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    number: str
    kind: str
    device_id: str | None = None
    failure_mode: str
    grade: str
    status: str
    is_open: bool
    title: str = ""
    assignee: str | None = None
    team: str | None = None
    customer: str | None = None
    site: str | None = None
    model: str | None = None
    opened_at: str | None = None
    response_due: str | None = None
    resolution_due: str | None = None
    responded_at: str | None = None
    closed_at: str | None = None
    response_breached: bool = False
    resolution_breached: bool = False
    escalation_level: int = 0
    eight_d: dict[str, Any] = {}
    comments: list[dict[str, Any]] = []
    feedback_verdict: str | None = None
    source: str = "proactive"


class TicketDetail(TicketPublic):
    audit: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []


class Move(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Status
    note: str = Field("", max_length=2000)


class Assign(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str | None = Field(None, min_length=1, max_length=128)
    team: str | None = Field(None, min_length=1, max_length=128)

    @field_validator("assignee", "team")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be blank")
        return v if v is None else v.strip()

    @model_validator(mode="after")
    def _someone(self) -> Assign:
        if not self.assignee and not self.team:
            raise ValueError("assign needs a person (assignee) or a team")
        return self


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=COMMENT_MAX_CHARS)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a comment needs text")
        return v




class EightD(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: Any = Field(description=f"text or a JSON object for this discipline (at most {EIGHT_D_MAX_CHARS:,} "
                                     "characters as JSON; not blank, null, {} or [])")

    @field_validator("content")
    @classmethod
    def _size(cls, v: Any) -> Any:
        if empty_8d(v):
            raise ValueError(EMPTY_8D)
        n = eight_d_size(v)
        if n > EIGHT_D_MAX_CHARS:
            raise ValueError(f"{n:,} characters, over the limit of {EIGHT_D_MAX_CHARS:,} for one 8D discipline; "
                             "attach long documents to a complaint or link them")
        return v


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: Literal["confirmed", "false_alarm"]
    actual_failure_mode: str | None = Field(
        None, max_length=64, description="the detectors' names (outer_race, imbalance, ...) or 'other: <description>'")
    cause: str = Field("", max_length=2000)
    action: str = Field("", max_length=2000)

    @field_validator("actual_failure_mode")
    @classmethod
    def _known_mode(cls, v: str | None) -> str | None:
        try:
            return field_failure_mode(v)
        except TicketError as exc:
            raise ValueError(str(exc)) from None


class Withdraw(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="why the verdict is taken back")


REASON_NEEDED = ("withdrawing feedback needs a reason (what was wrong with it): give 'reason' in the JSON body "
                 "or as a query parameter")


@router.get("", response_model=ListPublic[TicketPublic], summary="List tickets, newest first")
def list_tickets(
    ctx: ContextDep, session: SessionDep, _: Viewer, pg: PageDep,
    device_id: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[Status | None, Query()] = None,
    open: Annotated[bool | None, Query(description="only open (true) or closed (false) tickets")] = None,
    grade: Annotated[Literal["critical", "major", "minor"] | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=128)] = None,
    customer: Annotated[str | None, Query(max_length=128)] = None,
    kind: Annotated[Literal["unit", "fleet"] | None, Query()] = None,
    source: Annotated[Literal["proactive", "customer"] | None,
                      Query(description="who opened it: Foreshock (proactive) or a complaint (customer)")] = None,
) -> dict:
    from alerts.tickets import ticket_dict

    device_id = serial_filter(ctx, device_id)  # p-0001 is unit P-0001, whose tickets are stored as registered
    stmt = select(Ticket)
    for col, value in (("device_id", device_id), ("status", status), ("grade", grade), ("assignee", assignee),
                       ("customer", customer), ("kind", kind), ("is_open", open), ("source", source)):
        if value is not None:
            stmt = stmt.where(getattr(Ticket, col) == value)
    stmt = stmt.order_by(Ticket.opened_at.desc(), Ticket.id.desc())
    rows, count = page_query(session, stmt, limit=pg.limit, offset=pg.offset)
    return {"data": [ticket_dict(t) for (t,) in rows], "count": count}


@router.get("/{number}", response_model=TicketDetail, summary="One ticket with its audit trail and links")
def get_ticket(number: Number, ctx: ContextDep, _: Viewer) -> dict:
    return alerts_of(ctx).get_ticket(number)


def _changed(ctx, out: dict[str, Any], action: str, actor: str) -> dict[str, Any]:
    ctx.events.publish("ticket", {"kind": f"ticket_{action}", "ticket": out["number"], "status": out["status"],
                                  "device_id": out.get("device_id"), "by": actor})
    return out


@router.post("/{number}/move", response_model=TicketDetail, summary="Change a ticket's state")
def move_ticket(number: Number, body: Move, ctx: ContextDep, tok: Service) -> dict:
    return _changed(ctx, alerts_of(ctx).move_ticket(number, body.to, actor=tok.name, note=body.note), "moved", tok.name)


@router.post("/{number}/assign", response_model=TicketDetail, summary="Assign a ticket to a person and/or team")
def assign_ticket(number: Number, body: Assign, ctx: ContextDep, tok: Service) -> dict:
    out = alerts_of(ctx).assign_ticket(number, actor=tok.name, assignee=body.assignee, team=body.team)
    return _changed(ctx, out, "assigned", tok.name)


@router.post("/{number}/comments", response_model=TicketDetail, summary="Add a comment")
def comment_ticket(number: Number, body: Comment, ctx: ContextDep, tok: Service) -> dict:
    return _changed(ctx, alerts_of(ctx).comment_ticket(number, body.text, actor=tok.name), "commented", tok.name)


@router.put("/{number}/8d/{discipline}", response_model=TicketDetail, summary="Set one 8D discipline (D2..D7)")
def update_8d(number: Number, discipline: Literal["D2", "D3", "D4", "D5", "D6", "D7"], body: EightD,
              ctx: ContextDep, tok: Service) -> dict:
    out = alerts_of(ctx).update_8d(number, discipline, body.content, actor=tok.name)
    return _changed(ctx, out, "8d_updated", tok.name)


@router.post("/{number}/feedback", response_model=TicketDetail, summary="Closure feedback from the field")
def ticket_feedback(number: Number, body: Feedback, ctx: ContextDep, tok: Service) -> dict:
    out = alerts_of(ctx).record_feedback(number, body.verdict, actor=tok.name,
                                         actual_failure_mode=body.actual_failure_mode, cause=body.cause,
                                         action=body.action)
    return _changed(ctx, out, "feedback", tok.name)


@router.delete("/{number}/feedback", response_model=TicketDetail,
               summary="Withdraw closure feedback recorded by mistake (needs a reason)")
def withdraw_feedback(
    number: Number, ctx: ContextDep, tok: Service,
    body: Annotated[Withdraw | None, Body(description="{\"reason\": \"...\"} (or the query parameter)")] = None,
    reason: Annotated[str | None, Query(max_length=2000, description="why the verdict is taken back")] = None,
) -> dict:
    if body is not None and reason is not None and body.reason.strip() != reason.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "two different reasons (JSON body and query parameter): give it once")
    why = (body.reason if body is not None else reason or "").strip()
    if not why:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, REASON_NEEDED)
    out = alerts_of(ctx).withdraw_feedback(number, actor=tok.name, reason=why)
    return _changed(ctx, out, "feedback_withdrawn", tok.name)
