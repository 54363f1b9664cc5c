"""The complaint and corrective-action desk: one object the API, the CLI and tests call.

It works on the alert service's database, configuration, registry, notifier and clock, plus the
telemetry store and a health lookup for the evidence of a complaint (both optional).

- :meth:`ComplaintDesk.register` — a complaint from any channel (dict as :class:`ComplaintIn`);
- :meth:`ComplaintDesk.attachment` — the bytes of a file stored with a complaint;
- :meth:`ComplaintDesk.message`, :meth:`ComplaintDesk.reply` — customer communication (only to contacts
  tied to the unit's customer: :func:`alerts.customer.tied`);
- :meth:`ComplaintDesk.create_action`, :meth:`ComplaintDesk.verify_action` — corrective actions.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts import attachments, corrective, customer
from alerts.complaints import ComplaintIn, complaint_dict, register, registered_serial
from alerts.models import Complaint, CorrectiveAction, CustomerMessage, Ticket
from alerts.tickets import AlreadyOpen, TicketError, number_is

__all__ = ["ComplaintDesk"]

log = logging.getLogger(__name__)


class ComplaintDesk:
    def __init__(self, alerts: Any, *, store: Any = None, health: Any = None) -> None:
        self.alerts = alerts
        self._sf = alerts.session_factory
        self.store = store
        self.health = health

    @property
    def config(self) -> Any:
        return self.alerts.config

    def _ticket(self, s: Session, number: str, *, lock: bool = False) -> Ticket:
        if lock:  # as the ticket desk does: one change to a ticket at a time, each to what the last one left
            s.execute(update(Ticket).where(number_is(number)).values(number=Ticket.number)
                      .execution_options(synchronize_session=False))
        t = s.scalars(select(Ticket).where(number_is(number))).first()
        if t is None:
            raise TicketError(f"no ticket {number!r}")
        return t

    # --- complaints -------------------------------------------------------------------------
    def register(self, data: dict[str, Any] | ComplaintIn, *, actor: str) -> dict[str, Any]:
        """Register a complaint; returns it with its ticket, whether it joined one and the acknowledgement."""
        now = self.alerts.clock()
        for attempt in range(3):
            try:
                with self._sf.begin() as s:
                    row, ticket, created = register(s, data, cfg=self.config, registry=self.alerts.registry,
                                                    now=now, actor=actor, store=self.store, health=self.health,
                                                    notifier=self.alerts.notifier)
                    out = complaint_dict(row, ticket.number)
                    out["created"] = created
                    ticket_id, complaint_id = ticket.id, row.id
                break
            except IntegrityError:  # a concurrent writer opened the unit's ticket (or took this external_ref)
                if attempt == 2:
                    raise
                log.info("complaint registration raced another writer; retrying (it will join)")
        if self.alerts.notifier is not None:
            self.alerts.notifier.wake()
        if created and self.config.complaint_auto_ack:  # to this complaint's contact, not the ticket's others
            with self._sf.begin() as s:
                ticket, row = s.get_one(Ticket, ticket_id), s.get_one(Complaint, complaint_id)
                sent = customer.acknowledge(s, ticket, row, cfg=self.config, actor=actor, now=now,
                                            notifier=self.alerts.notifier)
                out["acknowledgement"] = [customer.message_dict(m) for m in sent]
            if self.alerts.notifier is not None:  # its worker sends the acknowledgement now
                self.alerts.notifier.wake()
        return out

    def list_complaints(self, *, ticket: str | None = None, device_id: str | None = None,
                        customer_name: str | None = None, limit: int = 200, offset: int = 0) -> tuple[list, int]:
        """One page of the complaints, newest first, and how many match. ``device_id`` in any letter case
        (``p-0002`` is unit ``P-0002``, under whose serial its complaints are stored)."""
        from sqlalchemy import func

        q = select(Complaint, Ticket.number).join(Ticket, Ticket.id == Complaint.ticket_id)
        if ticket:
            q = q.where(number_is(ticket))  # in any letter case, like every ticket number
        if device_id:
            registry = self.alerts.registry
            registered = registered_serial(registry, device_id) if registry is not None else None
            q = q.where(Complaint.device_id == (registered or device_id))
        if customer_name:
            q = q.where(Complaint.customer == customer_name)
        with self._sf() as s:
            count = s.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
            rows = s.execute(q.order_by(Complaint.received_at.desc(), Complaint.id.desc())
                             .limit(limit).offset(offset)).all()
            return [complaint_dict(c, n) for c, n in rows], int(count)

    def get_complaint(self, complaint_id: int) -> dict[str, Any]:
        with self._sf() as s:
            c = s.get(Complaint, complaint_id)
            if c is None:
                raise TicketError(f"no complaint {complaint_id}")
            return complaint_dict(c, s.get_one(Ticket, c.ticket_id).number)

    def attachment(self, complaint_id: int, attachment_id: int) -> tuple[dict[str, Any], bytes]:
        """A stored attachment's metadata and bytes; ``LookupError`` naming what is missing."""
        with self._sf() as s:
            a = attachments.load(s, complaint_id, attachment_id)
            return attachments.attachment_dict(a), bytes(a.data)

    def communication(self, number: str) -> dict[str, Any]:
        """The ticket's complaints and its communication log."""
        with self._sf() as s:
            t = self._ticket(s, number)
            msgs = s.scalars(select(CustomerMessage).where(CustomerMessage.ticket_id == t.id)
                             .order_by(CustomerMessage.id)).all()
            comps = s.scalars(select(Complaint).where(Complaint.ticket_id == t.id).order_by(Complaint.id)).all()
            return {"ticket": t.number, "source": t.source, "status": t.status,
                    "customer_followup": t.customer_followup,
                    "complaints": [complaint_dict(c, t.number) for c in comps],
                    "messages": [customer.message_dict(m) for m in msgs]}

    def message(self, number: str, kind: str, *, actor: str, text: str | None = None) -> dict[str, Any]:
        """Send an acknowledgement, progress update, answer or (after closure) follow-up."""
        with self._sf.begin() as s:
            customer.send(s, self._ticket(s, number), kind, cfg=self.config, actor=actor, now=self.alerts.clock(),
                          text=text)
        return self.communication(number)

    def reply(self, number: str, *, solved: bool, satisfaction: int | None = None, comment: str = "",
              actor: str) -> dict[str, Any]:
        """Record the customer's follow-up answer; "not solved" reopens the ticket."""
        for attempt in range(2):
            try:
                with self._sf.begin() as s:
                    customer.record_reply(s, self._ticket(s, number, lock=True), solved=solved,
                                          satisfaction=satisfaction, comment=comment, actor=actor,
                                          now=self.alerts.clock())
                break
            # a newer ticket of the unit and mode was reopened at the same moment: at the unique index, or
            # committed between record_reply's look for an open ticket and its move (PostgreSQL reads what
            # was committed meanwhile); the second attempt sees it and keeps the answer beside it
            except (IntegrityError, AlreadyOpen):
                if attempt:
                    raise
                log.info("follow-up on %s raced another writer; retrying (the answer is kept beside it)", number)
        return self.communication(number)

    # --- corrective actions -------------------------------------------------------------------
    def create_action(self, *, actor: str, ticket: str | None = None, **fields: Any) -> dict[str, Any]:
        with self._sf.begin() as s:
            t = self._ticket(s, ticket) if ticket else None
            a = corrective.create_action(s, now=self.alerts.clock(), actor=actor, ticket=t, **fields)
            return corrective.action_dict(a, t.number if t else None)

    def _action(self, s: Session, action_id: int) -> CorrectiveAction:
        a = s.get(CorrectiveAction, action_id)
        if a is None:
            raise TicketError(f"no corrective action {action_id}")
        return a

    def _number(self, s: Session, a: CorrectiveAction) -> str | None:
        return s.get_one(Ticket, a.ticket_id).number if a.ticket_id else None

    def list_actions(self) -> list[dict[str, Any]]:
        with self._sf() as s:
            rows = s.scalars(select(CorrectiveAction).order_by(CorrectiveAction.applied_at.desc())).all()
            return [corrective.action_dict(a, self._number(s, a)) for a in rows]

    def get_action(self, action_id: int) -> dict[str, Any]:
        with self._sf() as s:
            a = self._action(s, action_id)
            return corrective.action_dict(a, self._number(s, a))

    def verify_action(self, action_id: int, *, actor: str = "foreshock") -> dict[str, Any]:
        """Compare failure rates before/after, in/out of scope; store the verdict (and in the ticket's D6/D7)."""
        with self._sf.begin() as s:
            a = self._action(s, action_id)
            corrective.verify_action(s, a, registry=self.alerts.registry, now=self.alerts.clock(), actor=actor)
            return corrective.action_dict(a, self._number(s, a))
