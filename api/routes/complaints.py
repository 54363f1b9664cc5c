"""Customer complaints: register (API, dashboard form, signed webhook, raw email), list, detail; the
customer communication of a ticket (messages, follow-up reply). See ``docs/complaints.md``.

A complaint becomes a ticket or joins the open one for its unit; the change is published on the
live event stream like any other ticket change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from alerts.attachments import AttachmentTooLarge
from alerts.complaints import STAFF_CHANNELS, ComplaintIn, check_complaint
from alerts.customer import article
from api.deps import ContextDep, PageDep, Service, Viewer
from api.routes.alerts import alerts_of
from api.schemas import ListPublic, Message

router = APIRouter(prefix="/complaints", tags=["complaints"])
ticket_router = APIRouter(prefix="/tickets", tags=["complaints"])
Number = Annotated[str, Field(min_length=1, max_length=32)]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
_TOO_LARGE: dict[int | str, dict[str, Any]] = {413: {"model": Message, "description": "an attachment, or all of them together, is over the limit; "
                                                     "nothing was stored"}}


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
    attachments: list[dict[str, Any]] = Field([], description="name, content_type, size; url (a reference) or id, "
                                                             "sha256 and download (stored content)")

    @model_validator(mode="after")
    def _links(self) -> ComplaintPublic:
        for a in self.attachments:
            if "id" in a:
                a["download"] = f"/api/v1/complaints/{self.id}/attachments/{a['id']}"
        return self


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
    text: str | None = Field(None, max_length=20_000, validate_default=True,
                             description="default text for acknowledgement/follow-up")

    @field_validator("text")
    @classmethod
    def _text(cls, v: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind in ("progress", "answer") and not (v or "").strip():
            raise ValueError(f"{article(kind)} {kind} message needs text (only acknowledgement and follow_up have a default)")
        return v


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


async def _raw(request: Request, ctx: Any) -> bytes:
    # the body limit (complaint_body_bytes) is enforced by the app's middleware before it is read
    return await request.body()


def _register(ctx: Any, c: ComplaintIn, actor: str) -> dict[str, Any]:
    try:
        out = desk_of(ctx).register(c, actor=actor)
    except AttachmentTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
    return _registered(ctx, out, actor)


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name (RFC 6266 / 5987).

    >>> content_disposition('Pumpe "3" ä.jpg').split("; ")
    ['attachment', 'filename="Pumpe _3_ _.jpg"', "filename*=UTF-8''Pumpe%20%223%22%20%C3%A4.jpg"]
    """
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.get("", response_model=ListPublic[ComplaintPublic], summary="List complaints, newest first")
def list_complaints(
    ctx: ContextDep, _: Viewer, pg: PageDep,
    ticket: Annotated[str | None, Query(max_length=32)] = None,
    device_id: Annotated[str | None, Query(max_length=128)] = None,
    customer: Annotated[str | None, Query(max_length=128)] = None,
) -> dict:
    # device_id in any letter case: the desk looks it up (p-0002 is unit P-0002)
    data, count = desk_of(ctx).list_complaints(ticket=ticket, device_id=device_id, customer_name=customer,
                                               limit=pg.limit, offset=pg.offset)
    return {"data": data, "count": count}


@router.post("", response_model=ComplaintPublic, status_code=201, responses=_TOO_LARGE,
             summary="Register a complaint (service agent, dashboard form); it opens or joins a ticket")
def register_complaint(body: ComplaintIn, ctx: ContextDep, tok: Service) -> dict:
    return _register(ctx, body, tok.name)


@router.post("/webhook", response_model=ComplaintPublic, status_code=201, openapi_extra=_RAW, responses=_TOO_LARGE,
             summary="Inbound complaint from a web form or CRM, HMAC-signed (X-Foreshock-Signature)")
async def complaint_webhook(request: Request, ctx: ContextDep, tok: Service) -> dict:
    from starlette.concurrency import run_in_threadpool

    body = await _raw(request, ctx)
    complaint = await run_in_threadpool(_signed_complaint, ctx, request.headers, body)
    return await run_in_threadpool(_register, ctx, complaint, tok.name)


def _signed_complaint(ctx: Any, headers: Any, body: bytes) -> ComplaintIn:
    """The complaint of a webhook body whose signature is right. Run in a worker thread, like the email's parse:
    hashing, parsing and decoding tens of MiB on the event loop held up every other request meanwhile."""
    import json

    from alerts.inbound import verify_webhook
    from api.jsonbody import check_body

    cfg = alerts_of(ctx).config
    secret = cfg.complaint_webhook_secret.get_secret_value() if cfg.complaint_webhook_secret else None
    if not secret:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "the complaint webhook is not configured (alerts.complaint_webhook_secret)")
    try:
        verify_webhook(secret, headers.get("X-Foreshock-Timestamp"), body, headers.get("X-Foreshock-Signature"),
                       now=alerts_of(ctx).clock(), tolerance_s=cfg.complaint_webhook_tolerance_s)
    except PermissionError as exc:  # the caller's token is fine; the body is not signed right
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"complaint refused: body is not JSON ({exc})") from None
    check_body(body)  # a key given twice, NaN, a lone surrogate: 422 naming it, as on every route with a JSON body
    if isinstance(data, dict):
        data.setdefault("channel", "webhook")
        if data["channel"] in STAFF_CHANNELS:  # staff-entered complaints may subscribe their contact to a ticket
            raise HTTPException(status.HTTP_400_BAD_REQUEST,
                                f"complaint refused: channel {data['channel']!r} is for complaints staff enter "
                                "(the API with a service token, the dashboard); a webhook sends webhook, web_form, "
                                "crm or email")
    return check_complaint(data)


@router.post("/email", response_model=ComplaintPublic, status_code=201, openapi_extra=_MAIL, responses=_TOO_LARGE,
             summary="Inbound complaint as a raw RFC 822 email, posted by the mail gateway")
async def complaint_email(request: Request, ctx: ContextDep, tok: Service) -> dict:
    from starlette.concurrency import run_in_threadpool

    from alerts.inbound import check_email

    # in a worker thread: parsing a raw email near the body limit (34 MiB) took 2 s, during which the event
    # loop answered nothing else (dashboards, live streams, /healthz)
    complaint = await run_in_threadpool(check_email, await _raw(request, ctx))
    return await run_in_threadpool(_register, ctx, complaint, tok.name)


@router.get("/{complaint_id}", response_model=ComplaintPublic, summary="One complaint with its evidence")
def get_complaint(complaint_id: Id, ctx: ContextDep, _: Viewer) -> dict:
    return desk_of(ctx).get_complaint(complaint_id)


@router.get("/{complaint_id}/attachments/{attachment_id}", response_class=Response,
            responses={200: {"description": "the file's bytes with its stored content type",
                             "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                 "format": "binary"}}}}},
            summary="Download a file stored with a complaint")
def download_attachment(complaint_id: Id, attachment_id: Id, ctx: ContextDep, _: Viewer) -> Response:
    meta, data = desk_of(ctx).attachment(complaint_id, attachment_id)
    return Response(data, media_type=meta["content_type"], headers={
        "Content-Disposition": content_disposition(meta["name"]), "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox", "X-Checksum-SHA256": meta["sha256"]})


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
    ctx.events.publish("ticket", {"kind": "ticket_followup", "ticket": out["ticket"], "status": out["status"],
                                  "by": tok.name})
    return out
