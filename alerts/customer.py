"""Customer communication of complaint tickets: acknowledgement, progress, answer, follow-up, reply.

Messages go by SMTP (``AlertConfig.smtp``) to every contact address of the ticket's complaints and
every one is written to the ticket's communication log (``customer_messages``) with its outcome:
``sent``, or ``failed`` with the SMTP error (the desk sees it and can resend). The acknowledgement
answers the ticket's response clock. A follow-up after closure asks whether the problem is solved
and how satisfied the customer is; the reply is recorded on the ticket and "not solved" reopens it.

>>> subject_for("acknowledgement", "PF202611001")
'[PF202611001] We have received your complaint'
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.config import SmtpConfig
from alerts.models import Complaint, CustomerMessage, Ticket
from alerts.tickets import TicketError, find_open, iso, move, record

__all__ = ["KINDS", "message_dict", "record_reply", "send", "subject_for"]

log = logging.getLogger(__name__)
KINDS = ("acknowledgement", "progress", "answer", "follow_up")
_SUBJECTS = {
    "acknowledgement": "We have received your complaint",
    "progress": "Progress on your complaint",
    "answer": "Our answer to your complaint",
    "follow_up": "Is the problem solved? Please tell us",
}
_DEFAULT_TEXT = {
    "acknowledgement": "Thank you for your report. We have registered it as {number} and will answer by {due}.",
    "follow_up": ("We closed {number}. Is the problem solved, and how satisfied are you (1 = not at all, "
                  "5 = very)? Reply to this message or tell your service contact."),
}


def subject_for(kind: str, number: str) -> str:
    return f"[{number}] {_SUBJECTS[kind]}"


def message_dict(m: CustomerMessage) -> dict[str, Any]:
    return {"id": m.id, "kind": m.kind, "direction": m.direction, "address": m.address, "subject": m.subject,
            "body": m.body, "at": iso(m.at), "by": m.actor, "status": m.status, "error": m.error}


def _smtp_send(cfg: SmtpConfig, to: str, subject: str, body: str, number: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = cfg.sender, to, subject
    msg["X-Foreshock-Ticket"] = number
    msg.set_content(body)
    with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s) as smtp:
        if cfg.starttls:
            smtp.starttls()
        if cfg.username:
            smtp.login(cfg.username, cfg.password.get_secret_value() if cfg.password else "")
        smtp.send_message(msg)


def send(s: Session, ticket: Ticket, kind: str, *, cfg: Any, actor: str, now: float,
         text: str | None = None) -> list[CustomerMessage]:
    """Email ``kind`` to every complaint contact of ``ticket``; log each one (sent or failed)."""
    if kind not in KINDS:
        raise TicketError(f"unknown message kind {kind!r} (expected one of {', '.join(KINDS)})")
    if kind == "follow_up" and ticket.status != "closed":
        raise TicketError(f"ticket {ticket.number} is {ticket.status}: a follow-up is sent after closure")
    body = (text or "").strip() or _DEFAULT_TEXT.get(kind, "").format(number=ticket.number,
                                                                       due=iso(ticket.response_due))
    if not body:
        raise TicketError(f"a {kind} message needs text")
    complaints = s.scalars(select(Complaint).where(Complaint.ticket_id == ticket.id).order_by(Complaint.id)).all()
    if not complaints:
        raise TicketError(f"ticket {ticket.number} has no customer complaint to write to")
    out: list[CustomerMessage] = []
    seen: set[str] = set()
    for c in complaints:
        address = c.contact_email
        if address and address.lower() in seen:
            continue
        m = CustomerMessage(ticket_id=ticket.id, complaint_id=c.id, kind=kind, direction="out", address=address,
                            subject=subject_for(kind, ticket.number), body=body, at=now, actor=actor,
                            status="recorded")
        if address:
            seen.add(address.lower())
            try:
                _smtp_send(cfg.smtp, address, m.subject, body, ticket.number)
                m.status = "sent"
            except (smtplib.SMTPException, OSError) as exc:
                m.status, m.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
                log.warning("%s to %s for %s failed: %s", kind, address, ticket.number, exc)
        else:
            m.error = f"no email address: call {c.contact_phone}"
        s.add(m)
        out.append(m)
    if kind == "acknowledgement" and ticket.responded_at is None and any(m.status == "sent" for m in out):
        ticket.responded_at = now
    record(s, ticket, "customer_message", actor=actor, now=now, kind=kind,
           sent=sum(m.status == "sent" for m in out), failed=sum(m.status == "failed" for m in out))
    s.flush()
    return out


def record_reply(s: Session, ticket: Ticket, *, solved: bool, satisfaction: int | None, comment: str,
                 actor: str, now: float) -> CustomerMessage:
    """The customer's answer to the follow-up; "not solved" reopens a closed ticket, unless a newer ticket
    is open for the same unit and failure mode: then the answer is kept, the newer ticket is told in its
    audit trail and ``customer_followup["not_reopened"]`` says why."""
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise TicketError(f"satisfaction must be 1..5, got {satisfaction!r}")
    if ticket.source != "customer" and s.scalar(select(Complaint.id).where(Complaint.ticket_id == ticket.id)
                                                .limit(1)) is None:
        raise TicketError(f"ticket {ticket.number} has no customer complaint")
    followup: dict[str, Any] = {"solved": solved, "satisfaction": satisfaction, "comment": comment,
                                "at": iso(now), "by": actor}
    newer = None
    if not solved and ticket.status == "closed" and ticket.kind == "unit" and ticket.device_id:
        newer = find_open(s, ticket.device_id, ticket.failure_mode)
    if newer is not None:
        # the ticket cannot be reopened beside the newer one; the customer's answer is kept all the same, and
        # the newer ticket, which now follows the problem, is told
        followup["not_reopened"] = (f"{newer.number} is already open for {ticket.device_id} / "
                                    f"{ticket.failure_mode}: the problem is followed there")
        record(s, newer, "customer_followup", actor=actor, now=now, solved=solved, satisfaction=satisfaction,
               about=ticket.number)
    ticket.customer_followup = followup
    m = CustomerMessage(ticket_id=ticket.id, kind="reply", direction="in", subject="follow-up reply",
                        body=comment, at=now, actor=actor, status="recorded")
    s.add(m)
    record(s, ticket, "customer_followup", actor=actor, now=now, solved=solved, satisfaction=satisfaction,
           **({"not_reopened": newer.number} if newer is not None else {}))
    if not solved and ticket.status == "closed" and newer is None:
        move(s, ticket, "reopened", actor=actor, now=now, note="customer follow-up: problem not solved")
    s.flush()
    return m
