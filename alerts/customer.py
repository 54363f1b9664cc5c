"""Customer communication of complaint tickets: acknowledgement, progress, answer, follow-up, reply.

Messages go by SMTP (``AlertConfig.smtp``) to the contact address of each of the ticket's complaints
that is tied to the unit's customer (:func:`tied`; anyone can name a serial in an email) and every
one is written to the ticket's communication log (``customer_messages``) with its outcome: ``sent``,
or ``failed`` with the SMTP error (the desk sees it and can resend). On registration only the new
complaint's contact is acknowledged (:func:`acknowledge`); a flagged one hears that its report was
received, nothing about the ticket. The acknowledgement of a tied contact answers the ticket's
response clock when it is sent. With a notifier (a running service) the acknowledgement goes through the
notification outbox (:meth:`alerts.notify.Notifier.enqueue_customer`): it is logged ``pending``, retried
like every notification, and :func:`delivery_outcome` writes ``sent`` (answering the clock then) or, once
its attempts are spent, ``failed`` with the error. A follow-up after closure asks whether the problem is solved
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
from alerts.models import Complaint, CustomerMessage, Delivery, Ticket
from alerts.tickets import TicketError, find_open, iso, move, record

__all__ = ["KINDS", "acknowledge", "delivery_outcome", "message_dict", "record_reply", "send", "subject_for",
           "tied"]

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
# to a contact not tied to the unit's customer: no ticket number, no promise about the unit's ticket
_RECEIPT = ("Thank you for your report. We have registered it as complaint {id} and will check the unit's "
            "records before we answer.")


def article(kind: str) -> str:
    """"a" or "an" before a message kind in a sentence ("an answer message", "a progress message")."""
    return "an" if kind[:1] in "aeiou" else "a"


def subject_for(kind: str, number: str) -> str:
    return f"[{number}] {_SUBJECTS[kind]}"


def message_dict(m: CustomerMessage) -> dict[str, Any]:
    return {"id": m.id, "kind": m.kind, "direction": m.direction, "address": m.address, "subject": m.subject,
            "body": m.body, "at": iso(m.at), "by": m.actor, "status": m.status, "error": m.error}


def tied(c: Complaint) -> bool:
    """Whether ``c``'s contact may read its ticket's messages: tied to the unit's customer when it was
    registered (``evidence["customer_check"]``, :func:`alerts.complaints.customer_check`). A complaint
    registered before that check existed counts as tied, as it did then."""
    check = (c.evidence or {}).get("customer_check")
    return True if check is None else bool(check.get("tied"))


def _smtp_send(cfg: SmtpConfig, to: str, subject: str, body: str, number: str | None) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = cfg.sender, to, subject
    if number:
        msg["X-Foreshock-Ticket"] = number
    msg.set_content(body)
    with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s) as smtp:
        if cfg.starttls:
            smtp.starttls()
        if cfg.username:
            smtp.login(cfg.username, cfg.password.get_secret_value() if cfg.password else "")
        smtp.send_message(msg)


def _deliver(s: Session, ticket: Ticket, c: Complaint, kind: str, subject: str, body: str, *, cfg: Any,
             actor: str, now: float, number: str | None) -> CustomerMessage:
    """Email one message to ``c``'s contact and log it (sent, failed, or recorded: call the phone number)."""
    address = c.contact_email
    m = CustomerMessage(ticket_id=ticket.id, complaint_id=c.id, kind=kind, direction="out", address=address,
                        subject=subject, body=body, at=now, actor=actor, status="recorded")
    if address:
        try:
            _smtp_send(cfg.smtp, address, subject, body, number)
            m.status = "sent"
        except (smtplib.SMTPException, OSError) as exc:
            m.status, m.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("%s to %s for %s failed: %s", kind, address, ticket.number, exc)
    else:
        m.error = f"no email address: call {c.contact_phone}"
    s.add(m)
    return m


def _logged(s: Session, ticket: Ticket, kind: str, out: list[CustomerMessage], *, actor: str, now: float,
            answers: bool = True) -> None:
    """Audit what was sent; an acknowledgement sent to the customer (``answers``) answers the response clock."""
    acknowledged = answers and kind == "acknowledgement" and any(m.status == "sent" for m in out)
    if acknowledged and ticket.responded_at is None:
        ticket.responded_at = now
    record(s, ticket, "customer_message", actor=actor, now=now, kind=kind,
           sent=sum(m.status == "sent" for m in out), failed=sum(m.status == "failed" for m in out))
    s.flush()


def send(s: Session, ticket: Ticket, kind: str, *, cfg: Any, actor: str, now: float,
         text: str | None = None) -> list[CustomerMessage]:
    """Email ``kind`` to every complaint contact of ``ticket`` tied to the unit's customer; log each one."""
    if kind not in KINDS:
        raise TicketError(f"unknown message kind {kind!r} (expected one of {', '.join(KINDS)})")
    if kind == "follow_up" and ticket.status != "closed":
        raise TicketError(f"ticket {ticket.number} is {ticket.status}: a follow-up is sent after closure")
    body = (text or "").strip() or _DEFAULT_TEXT.get(kind, "").format(number=ticket.number,
                                                                       due=iso(ticket.response_due))
    if not body:
        raise TicketError(f"{article(kind)} {kind} message needs text")
    complaints = s.scalars(select(Complaint).where(Complaint.ticket_id == ticket.id).order_by(Complaint.id)).all()
    if not complaints:
        raise TicketError(f"ticket {ticket.number} has no customer complaint to write to")
    contacts = [c for c in complaints if tied(c)]
    if not contacts:
        flagged = ", ".join(str(c.id) for c in complaints)
        raise TicketError(f"ticket {ticket.number} has no contact tied to the unit's customer "
                          f"{ticket.customer!r}: its complaints are flagged ({flagged}: see each flag_reason); "
                          "nothing was sent")
    out: list[CustomerMessage] = []
    seen: set[str] = set()
    for c in contacts:
        if c.contact_email and c.contact_email.lower() in seen:
            continue
        if c.contact_email:
            seen.add(c.contact_email.lower())
        out.append(_deliver(s, ticket, c, kind, subject_for(kind, ticket.number), body, cfg=cfg, actor=actor,
                            now=now, number=ticket.number))
    _logged(s, ticket, kind, out, actor=actor, now=now)
    return out


def _queue(s: Session, notifier: Any, ticket: Ticket, c: Complaint, kind: str, subject: str, body: str, *,
           actor: str, now: float, number: str | None, answers: bool) -> CustomerMessage:
    """Log one message to ``c``'s contact as ``pending`` and write its delivery into the notification outbox."""
    m = CustomerMessage(ticket_id=ticket.id, complaint_id=c.id, kind=kind, direction="out", address=c.contact_email,
                        subject=subject, body=body, at=now, actor=actor, status="pending")
    s.add(m)
    s.flush()  # its id goes into the delivery
    notifier.enqueue_customer(s, kind, c.contact_email, {"customer_message": m.id, "ticket_id": ticket.id,
                                                         "ticket": number, "subject": subject, "body": body,
                                                         "answers": answers})
    return m


def acknowledge(s: Session, ticket: Ticket, c: Complaint, *, cfg: Any, actor: str, now: float,
                notifier: Any = None) -> list[CustomerMessage]:
    """Acknowledge a new complaint to its own contact only (the ticket's other contacts have heard already).

    A contact tied to the unit's customer gets the ticket number and the answer time, and that answers
    the ticket's response clock once it is sent; any other only a receipt that names neither (:data:`_RECEIPT`).
    With a ``notifier`` an email goes through its outbox (logged ``pending``, retried; see
    :func:`delivery_outcome`), else it is sent here, once.
    """
    if tied(c):
        subject, number = subject_for("acknowledgement", ticket.number), ticket.number
        body = _DEFAULT_TEXT["acknowledgement"].format(number=ticket.number, due=iso(ticket.response_due))
    else:
        subject, number = subject_for("acknowledgement", f"complaint {c.id}"), None
        body = _RECEIPT.format(id=c.id)
    if notifier is not None and c.contact_email:
        m = _queue(s, notifier, ticket, c, "acknowledgement", subject, body, actor=actor, now=now, number=number,
                   answers=tied(c))
        record(s, ticket, "customer_message", actor=actor, now=now, kind="acknowledgement", queued=1)
        s.flush()
        return [m]
    m = _deliver(s, ticket, c, "acknowledgement", subject, body, cfg=cfg, actor=actor, now=now, number=number)
    _logged(s, ticket, "acknowledgement", [m], actor=actor, now=now, answers=tied(c))
    return [m]


def delivery_outcome(s: Session, d: Delivery, *, now: float) -> None:
    """Write the outcome of an attempt at a customer message's delivery to its communication log entry: ``sent``
    (a tied contact's acknowledgement then answers the ticket's response clock), ``failed`` with the error when
    its attempts are spent, or still ``pending`` with the error of the attempt that will be retried."""
    m = s.get(CustomerMessage, (d.payload or {}).get("customer_message"))
    if m is None:  # the log entry is gone (a purge): the delivery log keeps the outcome
        return
    if d.status == "sent":
        m.status, m.error = "sent", None
    elif d.status == "failed":
        m.status, m.error = "failed", d.last_error
    else:
        m.status = "pending"
        m.error = f"attempt {d.attempts} failed, retried at {iso(d.next_attempt_at)}: {d.last_error}"[:2000]
    if d.status not in ("sent", "failed"):
        return
    ticket = s.get(Ticket, m.ticket_id)
    if ticket is None:
        return
    if d.status == "sent" and m.kind == "acknowledgement" and d.payload.get("answers") and ticket.responded_at is None:
        ticket.responded_at = now
    record(s, ticket, "customer_message", actor="notifier", now=now, kind=m.kind, sent=int(d.status == "sent"),
           failed=int(d.status == "failed"), attempts=d.attempts, delivery=d.id)


def record_reply(s: Session, ticket: Ticket, *, solved: bool, satisfaction: int | None, comment: str,
                 actor: str, now: float) -> CustomerMessage:
    """The customer's answer to the follow-up, on a closed (or reopened) ticket: one still being worked on is
    refused naming its state, as the follow-up itself is. "Not solved" reopens a closed ticket, unless a newer ticket
    is open for the same unit and failure mode: then the answer is kept, the newer ticket is told in its
    audit trail and ``customer_followup["not_reopened"]`` says why."""
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise TicketError(f"satisfaction must be 1..5, got {satisfaction!r}")
    if ticket.source != "customer" and s.scalar(select(Complaint.id).where(Complaint.ticket_id == ticket.id)
                                                .limit(1)) is None:
        raise TicketError(f"ticket {ticket.number} has no customer complaint")
    if ticket.status not in ("closed", "reopened"):
        # the follow-up is sent after closure, and its answer decides whether the ticket reopens: on a ticket still
        # being worked on it was kept as the customer's verdict on a repair not finished, and reopened nothing.
        # A reopened ticket takes it: its answer may come after someone reopened the ticket by hand
        raise TicketError(f"ticket {ticket.number} is {ticket.status}: the customer's follow-up answer is recorded "
                          "after closure (move the ticket to closed first)")
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
