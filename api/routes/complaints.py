"""Customer complaints: register (API, dashboard form, signed webhook, raw email), list, detail; the
customer communication of a ticket (messages, follow-up reply). See ``docs/complaints.md``.

A complaint becomes a ticket or joins the open one for its unit; the change is published on the
live event stream like any other ticket change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from alerts.complaints import ComplaintIn, check_complaint
from api.deps import ContextDep, PageDep, Service, Viewer
from api.routes.alerts import alerts_of
from api.schemas import ListPublic

router = APIRouter(prefix="/complaints", tags=["complaints"])
ticket_router = APIRouter(prefix="/tickets", tags=["complaints"])
Number = Annotated[str, Field(min_length=1, max_length=32)]
MAX_RAW = 10 * 1024 * 1024  # a raw email or webhook body larger than this is refused


class ComplaintPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    ticket: str | None = None
    channel: str
    customer: str
    device_id: str | None = None
    request: str
    description: str
    occurred_at: str | None = None
    received_at: str | None = None
    joined: bool = False
    preceded_by_warning: bool = False
    warning_lead_s: float | None = None
    evidence: dict[str, Any] = {}


class Communication(BaseModel):
    ticket: str
    source: str
    status: str
    customer_followup: dict[str, Any] | None = None
    complaints: list[ComplaintPublic]
    messages: list[dict[str, Any]]


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["acknowledgement", "progress", "answer", "follow_up"]
    text: str | None = Field(None, max_length=20_000, description="default text for acknowledgement/follow-up")


class FollowUpReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    solved: bool
    satisfaction: int | None = Field(None, ge=1, le=5)
    comment: str = Field("", max_length=5000)


def desk_of(ctx: Any) -> Any:
    from alerts.complaint_desk import ComplaintDesk
    from api.health_view import latest_health

    def health(device_id: str) -> dict[str, Any] | None:
        with ctx.session_factory() as s:
            return latest_health(s, [device_id]).get(device_id)

    return ComplaintDesk(alerts_of(ctx), store=ctx.store, health=health)


def _registered(ctx: Any, out: dict[str, Any], actor: str) -> dict[str, Any]:
    ctx.events.publish("ticket", {"kind": "ticket_complaint", "ticket": out["ticket"], "device_id": out["device_id"],
                                  "joined": out["joined"], "by": actor})
    return out


_RAW = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}
# the raw message; sent as message/rfc822 or text/plain (the schema names text/plain, which tools can generate)
_MAIL = {"requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}}


async def _raw(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_RAW:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_RAW} bytes")
    return body


@router.get("", response_model=ListPublic[ComplaintPublic], summary="List complaints, newest first")
def list_complaints(
    ctx: ContextDep, _: Viewer, pg: PageDep,
    ticket: Annotated[str | None, Query(max_length=32)] = None,
    device_id: Annotated[str | None, Query(max_length=128)] = None,
    customer: Annotated[str | None, Query(max_length=128)] = None,
) -> dict:
    data, count = desk_of(ctx).list_complaints(ticket=ticket, device_id=device_id, customer_name=customer,
                                               limit=pg.limit, offset=pg.offset)
    return {"data": data, "count": count}


@router.post("", response_model=ComplaintPublic, status_code=201,
             summary="Register a complaint (service agent, dashboard form); it opens or joins a ticket")
def register_complaint(body: ComplaintIn, ctx: ContextDep, tok: Service) -> dict:
    return _registered(ctx, desk_of(ctx).register(body, actor=tok.name), tok.name)


@router.post("/webhook", response_model=ComplaintPublic, status_code=201, openapi_extra=_RAW,
             summary="Inbound complaint from a web form or CRM, HMAC-signed (X-Foreshock-Signature)")
async def complaint_webhook(request: Request, ctx: ContextDep, tok: Service) -> dict:
    from starlette.concurrency import run_in_threadpool

    from alerts.inbound import verify_webhook

    body = await _raw(request)
    cfg = alerts_of(ctx).config
    secret = cfg.complaint_webhook_secret.get_secret_value() if cfg.complaint_webhook_secret else None
    if not secret:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "the complaint webhook is not configured (alerts.complaint_webhook_secret)")
    try:
        verify_webhook(secret, request.headers.get("X-Foreshock-Timestamp"), body,
                       request.headers.get("X-Foreshock-Signature"), now=alerts_of(ctx).clock(),
                       tolerance_s=cfg.complaint_webhook_tolerance_s)
    except PermissionError as exc:  # the caller's token is fine; the body is not signed right
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    import json

    try:
        data = json.loads(body)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"complaint refused: body is not JSON ({exc})") from None
    if isinstance(data, dict):
        data.setdefault("channel", "webhook")
    c = check_complaint(data)
    out = await run_in_threadpool(desk_of(ctx).register, c, actor=tok.name)
    return _registered(ctx, out, tok.name)


@router.post("/email", response_model=ComplaintPublic, status_code=201, openapi_extra=_MAIL,
             summary="Inbound complaint as a raw RFC 822 email, posted by the mail gateway")
async def complaint_email(request: Request, ctx: ContextDep, tok: Service) -> dict:
    from starlette.concurrency import run_in_threadpool

    from alerts.inbound import parse_email

    data = parse_email(await _raw(request))
    out = await run_in_threadpool(desk_of(ctx).register, check_complaint(data), actor=tok.name)
    return _registered(ctx, out, tok.name)


@router.get("/{complaint_id}", response_model=ComplaintPublic, summary="One complaint with its evidence")
def get_complaint(complaint_id: Annotated[int, Field(ge=1, le=2**31 - 1)], ctx: ContextDep, _: Viewer) -> dict:
    return desk_of(ctx).get_complaint(complaint_id)


@ticket_router.get("/{number}/communication", response_model=Communication,
                   summary="A ticket's complaints and its customer communication log")
def communication(number: Number, ctx: ContextDep, _: Viewer) -> dict:
    return desk_of(ctx).communication(number)


@ticket_router.post("/{number}/messages", response_model=Communication,
                    summary="Email the customer: acknowledgement, progress, answer, or follow-up after closure")
def send_message(number: Number, body: MessageIn, ctx: ContextDep, tok: Service) -> dict:
    return desk_of(ctx).message(number, body.kind, text=body.text, actor=tok.name)


@ticket_router.post("/{number}/follow-up", response_model=Communication,
                    summary="Record the customer's follow-up answer; 'not solved' reopens the ticket")
def follow_up_reply(number: Number, body: FollowUpReply, ctx: ContextDep, tok: Service) -> dict:
    out = desk_of(ctx).reply(number, solved=body.solved, satisfaction=body.satisfaction, comment=body.comment,
                             actor=tok.name)
    ctx.events.publish("ticket", {"kind": "ticket_followup", "ticket": number, "status": out["status"],
                                  "by": tok.name})
    return out
