"""Tables of the alerts branch: alerts, tickets and their audit trail, notifications, suppression.

All times are epoch seconds (UTC) stored as floats, so that SQLite and PostgreSQL compare and
report them identically. ``device_id`` is a plain string: no foreign key into the devices
tables, so the Alembic branches stay independent.

Two partial unique indexes carry the concurrency guarantees: at most one *open* alert and at
most one *open* unit ticket per (unit, failure mode), whichever worker gets there first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from foreshock.db import Base

__all__ = [
    "Alert",
    "Complaint",
    "ComplaintAttachment",
    "CorrectiveAction",
    "CustomerMessage",
    "Delivery",
    "MaintenanceWindow",
    "ProcessedMessage",
    "Route",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "TicketLink",
]


class Alert(Base):
    """One alert per (unit, failure mode) while it is open; cleared ones stay as history."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128), index=True)
    failure_mode: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))  # watch | warning | alarm | silent
    grade: Mapped[str] = mapped_column(String(16))  # critical | major | minor
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | cleared
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    raised_at: Mapped[float] = mapped_column(Float)
    escalated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    cleared_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    acknowledged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_ts: Mapped[float] = mapped_column(Float)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index(
            "uq_alerts_open_unit_mode", "device_id", "failure_mode", unique=True,
            sqlite_where=text("is_open"), postgresql_where=text("is_open"),
        ),
        # the alert list's order (newest first): without it every page sorted the whole history
        # (100,000 alerts: first page 206 ms, last 545 ms; bench/api_history_list.py)
        Index("ix_alerts_raised_at_id", "raised_at", "id"),
    )


class Ticket(Base):
    """A proactive quality ticket: PF number, grade, clocks, state, 8D record, field feedback."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="unit")  # unit | fleet
    device_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    group_key: Mapped[str | None] = mapped_column(String(200), nullable=True)  # fleet: "model:X"
    failure_mode: Mapped[str] = mapped_column(String(64))
    grade: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="received")
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    assignee: Mapped[str | None] = mapped_column(String(128), nullable=True)
    team: Mapped[str | None] = mapped_column(String(128), nullable=True)
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    customer: Mapped[str | None] = mapped_column(String(128), nullable=True)
    site: Mapped[str | None] = mapped_column(String(128), nullable=True)
    firmware: Mapped[str | None] = mapped_column(String(64), nullable=True)
    batch: Mapped[str | None] = mapped_column(String(64), nullable=True)
    opened_at: Mapped[float] = mapped_column(Float, index=True)
    response_due: Mapped[float] = mapped_column(Float)
    resolution_due: Mapped[float] = mapped_column(Float)
    responded_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    response_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    repeat_failure: Mapped[bool] = mapped_column(Boolean, default=False)
    eight_d: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    feedback_verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)  # confirmed | false_alarm
    feedback: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # proactive (opened by Foreshock) | customer (opened by a complaint); a complaint may join a proactive one
    source: Mapped[str] = mapped_column(String(16), default="proactive", server_default="proactive")
    customer_followup: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        Index(
            "uq_tickets_open_unit_mode", "device_id", "failure_mode", unique=True,
            sqlite_where=text("is_open AND kind = 'unit'"), postgresql_where=text("is_open AND kind = 'unit'"),
        ),
        Index(
            "uq_tickets_open_fleet", "group_key", "failure_mode", unique=True,
            sqlite_where=text("is_open AND kind = 'fleet'"), postgresql_where=text("is_open AND kind = 'fleet'"),
        ),
    )


class TicketEvent(Base):
    """The audit trail: every change of a ticket, with who and when."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TicketLink(Base):
    """A link between two tickets: repeat failures of one unit, units of a fleet problem."""

    __tablename__ = "ticket_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    linked_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    reason: Mapped[str] = mapped_column(String(16))  # repeat | fleet

    __table_args__ = (UniqueConstraint("ticket_id", "linked_id", "reason", name="uq_ticket_links_pair"),)


class TicketCounter(Base):
    """One row per month; ``n`` is the last sequence number handed out."""

    __tablename__ = "ticket_counters"

    month: Mapped[str] = mapped_column(String(6), primary_key=True)  # YYYYMM
    n: Mapped[int] = mapped_column(Integer)


class ProcessedMessage(Base):
    """Source keys of assessments that changed something: a redelivery changes nothing twice."""

    __tablename__ = "alert_processed"

    source_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    at: Mapped[float] = mapped_column(Float)


class MaintenanceWindow(Base):
    """No alert is raised or escalated for a unit (or every unit of a site) inside a window."""

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    site: Mapped[str | None] = mapped_column(String(128), nullable=True)
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(128), default="")


class Route(Base):
    """A routing rule: events matching customer/site/model/grade go to one webhook or mailbox."""

    __tablename__ = "notification_routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # webhook | email
    target: Mapped[str] = mapped_column(String(500))  # URL or comma-separated addresses
    secret: Mapped[str | None] = mapped_column(String(200), nullable=True)  # webhook HMAC key
    customer: Mapped[str | None] = mapped_column(String(128), nullable=True)
    site: Mapped[str | None] = mapped_column(String(128), nullable=True)
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    min_grade: Mapped[str] = mapped_column(String(16), default="minor")
    events: Mapped[str | None] = mapped_column(String(500), nullable=True)  # comma list; None = all
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Delivery(Base):
    """The delivery log: one row per (event, route), written with the change that caused it."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # none for a message to a customer's contact (alerts.customer): it follows no routing rule
    route_id: Mapped[int | None] = mapped_column(ForeignKey("notification_routes.id"), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(500))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Complaint(Base):
    """A customer complaint; it opened its ticket or joined an open one (``ticket_id``)."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # api | dashboard | webhook | email
    external_ref: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)  # CRM id, Message-ID
    customer: Mapped[str] = mapped_column(String(128))
    contact_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    contact_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    contact_phone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    site: Mapped[str | None] = mapped_column(String(128), nullable=True)
    failure_mode: Mapped[str | None] = mapped_column(String(64), nullable=True)
    description: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[float] = mapped_column(Float)
    request: Mapped[str] = mapped_column(String(16))  # repair | replacement | refund | advice
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    received_at: Mapped[float] = mapped_column(Float, index=True)
    joined: Mapped[bool] = mapped_column(Boolean, default=False)  # joined an existing open ticket
    warned_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # first Foreshock alert before it
    warning_lead_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ComplaintAttachment(Base):
    """The content of a file a customer sent with a complaint (photo, log, document)."""

    __tablename__ = "complaint_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # sanitised file name
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)  # bytes
    sha256: Mapped[str] = mapped_column(String(64))  # hex digest of data
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[float] = mapped_column(Float)  # epoch seconds


class CustomerMessage(Base):
    """The communication log of a ticket: what was sent to (or heard from) the customer."""

    __tablename__ = "customer_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(24))  # acknowledgement | progress | answer | follow_up | reply
    direction: Mapped[str] = mapped_column(String(8))  # out | in
    address: Mapped[str | None] = mapped_column(String(254), nullable=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(128), default="")
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed | recorded
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class CorrectiveAction(Base):
    """A corrective action applied to a scope of units from a date, and its verification by data."""

    __tablename__ = "corrective_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)  # model, batch, firmware, serial_from, serial_to
    failure_modes: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every failure mode
    applied_at: Mapped[float] = mapped_column(Float)
    baseline_d: Mapped[float] = mapped_column(Float)
    target_ratio: Mapped[float] = mapped_column(Float)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[float] = mapped_column(Float)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    verified_at: Mapped[float | None] = mapped_column(Float, nullable=True)
