"""Customer complaints: validated, linked to the unit's data, turned into (or joined to) a ticket.

A complaint becomes a ticket of the same kind as the proactive ones (PF number, grade, clocks,
states, 8D) with ``source="customer"``; if an open ticket exists for that unit (and failure mode,
when the complaint names one) the complaint joins it instead. Either way the complaint keeps the
unit's telemetry evidence around the reported time (features, health, alerts of that period) and
whether a Foreshock warning preceded it, and by how long: the measure of failures caught before
the customer noticed. Whether its contact may read the ticket's messages is decided here too
(:func:`customer_check`): anyone can write a serial into an email. See ``docs/complaints.md``.

>>> ComplaintIn.model_validate({"customer": "ACME", "contact": {"email": "a@acme.example"}, "device_id": "P-1",
...     "description": "loud grinding noise", "occurred_at": "2026-11-20T08:00:00Z", "request": "repair"}).request
'repair'
>>> check_complaint({"customer": "ACME", "description": "noise"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
ValueError: complaint refused: contact: Field required; ...; request: Field required; unit: give the unit serial (device_id), or the model and site...
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from alerts.attachments import Attachment, check_sizes, store_attachments
from alerts.config import GRADE_ORDER
from alerts.customer import tied
from alerts.escalation import check_repeat, link_open_fleet
from alerts.models import Alert, Complaint, Ticket
from alerts.tickets import FIELD_MODES, failure_mode_name, find_open, iso, open_ticket, record, regrade
from alerts.units import unit_attrs

__all__ = ["CHANNELS", "REQUESTS", "STAFF_CHANNELS", "Attachment", "ComplaintIn", "Contact", "check_complaint",
           "check_instant", "complaint_dict", "customer_check", "register", "registered_serial"]

log = logging.getLogger(__name__)
CHANNELS = ("api", "dashboard", "phone", "email", "web_form", "crm", "webhook", "letter")
REQUESTS = ("repair", "replacement", "refund", "advice")
# channels on which a member of staff types the complaint in (service role): the agent vouches for the caller
STAFF_CHANNELS = ("api", "dashboard", "phone", "letter")
CUSTOMER_MODE = "customer_reported"  # failure mode of a complaint ticket when nobody has classified it yet
COMPLAINT_MODES = (*FIELD_MODES, "anomaly", CUSTOMER_MODE)  # what an agent may classify a complaint as, or "other: ..."


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # the range of epoch seconds accepted (0 .. 32503680000)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def check_instant(v: datetime) -> datetime:
    """``v`` (UTC when it has no offset) if it lies in 1970-01-01 .. 3000-01-01, else ``ValueError`` saying so.

    Outside that range the evidence window and the baseline cannot be computed (``year 0 is out of
    range``), and a stored action could never be verified.

    >>> check_instant(datetime(1, 1, 1))
    Traceback (most recent call last):
    ...
    ValueError: 0001-01-01T00:00:00+00:00 is out of range: expected a time between 1970-01-01 and 3000-01-01
    """
    v = v if v.tzinfo else v.replace(tzinfo=UTC)
    if not EARLIEST <= v < LATEST:
        raise ValueError(f"{v.isoformat()} is out of range: expected a time between 1970-01-01 and 3000-01-01")
    return v


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+()./ -]{4,64}$")


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=128)
    email: str | None = Field(None, max_length=254, json_schema_extra={"pattern": _EMAIL.pattern})
    phone: str | None = Field(None, max_length=64, json_schema_extra={"pattern": _PHONE.pattern})

    @field_validator("email", "phone")
    @classmethod
    def _address(cls, v: str | None, info: Any) -> str | None:
        if v is None:
            return v
        v = v.strip()
        if info.field_name == "email" and not _EMAIL.fullmatch(v):
            raise ValueError(f"not an email address: {v[:60]!r} (expected e.g. ann@acme.example)")
        if info.field_name == "phone" and not _PHONE.fullmatch(v):
            raise ValueError(f"not a phone number: {v[:60]!r} (digits, spaces and + ( ) . / -, e.g. +49 30 1234567)")
        return v

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if not self.email and not self.phone:
            raise ValueError("give an email address or a phone number to reach the customer")
        return self


_NO_UNIT = "give the unit serial (device_id), or the model and site when the serial is unknown"
Instant = Annotated[datetime, WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"},
                                                       {"type": "number", "description": "epoch seconds"}]})]


class ComplaintIn(BaseModel):
    """What a complaint must say. ``occurred_at``: ISO 8601 or epoch seconds (UTC)."""

    model_config = ConfigDict(extra="forbid")
    channel: Literal["api", "dashboard", "phone", "email", "web_form", "crm", "webhook", "letter"] = "api"
    customer: str | None = Field(None, min_length=1, max_length=128, description="from the unit when omitted")
    contact: Contact
    device_id: str | None = Field(None, min_length=1, max_length=128, description="the unit serial")
    model: str | None = Field(None, min_length=1, max_length=128)
    site: str | None = Field(None, min_length=1, max_length=128)
    description: str = Field(min_length=5, max_length=20_000, description="what happened")
    occurred_at: Instant
    request: Literal["repair", "replacement", "refund", "advice"]
    failure_mode: str | None = Field(None, min_length=1, max_length=64)
    grade: Literal["critical", "major", "minor"] | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    external_ref: str | None = Field(None, min_length=1, max_length=200, description="CRM id: a resend is idempotent")

    @field_validator("failure_mode")
    @classmethod
    def _known_mode(cls, v: str | None) -> str | None:
        return None if v is None or not v.strip() else failure_mode_name(v, names=COMPLAINT_MODES)

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _instant(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (str, int, float, datetime)):
            raise ValueError("expected an ISO 8601 time (2026-11-20T08:00:00Z) or epoch seconds")  # noqa: TRY004 - pydantic reports ValueError
        if isinstance(v, str):
            try:
                return datetime.fromisoformat(v)
            except ValueError:
                raise ValueError(f"expected an ISO 8601 time (2026-11-20T08:00:00Z), got {v[:40]!r}") from None
        if isinstance(v, (int, float)):
            if not 0 <= v < 32503680000:
                raise ValueError(f"epoch seconds out of range: {v!r}")
            return datetime.fromtimestamp(v, UTC)
        return v

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return check_instant(v)

    @model_validator(mode="wrap")
    @classmethod
    def _unit(cls, data: Any, handler: Any) -> ComplaintIn:
        given = data if isinstance(data, dict) else {}
        # the unit, and without its serial the customer (no unit to take it from): reported with every other problem
        own = []
        if isinstance(data, dict) and not given.get("device_id"):
            if not (given.get("model") and given.get("site")):
                own.append(("unit", _NO_UNIT))
            elif given.get("customer") is None:  # "" is refused by the field itself
                own.append(("customer", "required when the unit serial is not given"))
        problems = [InitErrorDetails(type=PydanticCustomError("value_error", msg), loc=(loc,), input=data)
                    for loc, msg in own]
        try:
            out = handler(data)
        except ValidationError as exc:
            if not problems:
                raise
            details = [InitErrorDetails(type=PydanticCustomError("value_error", e["msg"].replace("{", "(")
                                                                 .replace("}", ")")),
                                        loc=e["loc"], input=e.get("input")) for e in exc.errors()]
            raise ValidationError.from_exception_data(cls.__name__, [*details, *problems]) from None
        if problems:
            # at its own place also when it is the only problem: a model validator's own error has none, and the
            # API named it "request", which is a field of the complaint (repair, refund, ...)
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return out


def _loc(err: Any) -> str:
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    return ".".join(loc) or "unit"


def check_complaint(data: dict[str, Any]) -> ComplaintIn:
    """Validate a complaint from any channel; ``ValueError`` lists every missing or bad field."""
    if not isinstance(data, dict):
        raise ValueError(f"complaint refused: expected a JSON object, got {type(data).__name__}")  # noqa: TRY004 - a 400
    try:
        return ComplaintIn.model_validate(data)
    except ValidationError as exc:
        problems = {f"{_loc(e)}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()}
        raise ValueError("complaint refused: " + "; ".join(sorted(problems))) from None


def complaint_dict(c: Complaint, ticket_number: str | None = None) -> dict[str, Any]:
    out = {k: getattr(c, k) for k in ("id", "channel", "external_ref", "customer", "contact_name", "contact_email",
                                      "contact_phone", "device_id", "model", "site", "failure_mode", "description",
                                      "request", "attachments", "joined", "warning_lead_s", "evidence")}
    flagged = not tied(c)
    out.update(ticket=ticket_number, occurred_at=iso(c.occurred_at), received_at=iso(c.received_at),
               warned_at=iso(c.warned_at), preceded_by_warning=c.warned_at is not None,
               flagged=flagged, flag_reason=c.evidence["customer_check"].get("why") if flagged else None)
    return out


def _same_customer(a: str | None, b: str | None) -> bool:
    """Names equal but for letter case and spaces (``" acme "`` is ``ACME``)."""
    if a is None or b is None:
        return False
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _known_contact(s: Session, c: ComplaintIn, owner: str) -> bool:
    """Whether the contact is one of an earlier complaint tied to ``owner`` (its email, else its phone)."""
    if c.contact.email:
        same = func.lower(Complaint.contact_email) == c.contact.email.lower()
    else:
        same = Complaint.contact_phone == c.contact.phone
    return any(tied(old) and _same_customer(old.customer, owner)
               for old in s.scalars(select(Complaint).where(same).order_by(Complaint.id.desc()).limit(50)))


def customer_check(s: Session, c: ComplaintIn, owner: str | None) -> dict[str, Any]:
    """Whether the complaint's contact is tied to ``owner``, the customer of the unit (or of the ticket it
    joins): ``{"customer", "tied", "why"}``, kept in the complaint's evidence.

    Tied: the complaint names that customer (letter case and spaces aside); or it names none and staff
    typed it in (:data:`STAFF_CHANNELS`, the service role); or its contact is already one of a tied
    complaint of that customer. Anything else (an email that only names the serial, a webhook naming
    another customer) is still registered, but flagged: its contact hears only that it was received.
    """
    contact = c.contact.email or c.contact.phone
    if owner is None:
        return {"customer": None, "tied": True, "why": "no customer on record for the unit or ticket"}
    if c.customer is not None and _same_customer(c.customer, owner):
        return {"customer": owner, "tied": True, "why": f"names the unit's customer {owner!r}"}
    if c.customer is None and c.channel in STAFF_CHANNELS:
        return {"customer": owner, "tied": True, "why": f"entered by staff ({c.channel}) for {owner!r}"}
    if _known_contact(s, c, owner):
        return {"customer": owner, "tied": True, "why": f"{contact} is a known contact of {owner!r}"}
    said = (f"names customer {c.customer!r}" if c.customer is not None
            else f"came by {c.channel} without naming the customer, and {contact} is not a known contact")
    return {"customer": owner, "tied": False, "why": f"the complaint {said}; the unit belongs to {owner!r}: "
                                                     f"the ticket's messages do not go to {contact}"}


def _evidence(s: Session, device_id: str, t: float, cfg: Any, store: Any, health: Any) -> dict[str, Any]:
    start, end = t - cfg.complaint_evidence_before_h * 3600, t + cfg.complaint_evidence_after_h * 3600
    alerts = s.scalars(select(Alert).where(Alert.device_id == device_id, Alert.raised_at <= end,
                                           (Alert.cleared_at.is_(None)) | (Alert.cleared_at >= start))
                       .order_by(Alert.raised_at)).all()
    out: dict[str, Any] = {
        "window": {"from": iso(start), "to": iso(end)},
        "alerts": [{"id": a.id, "failure_mode": a.failure_mode, "severity": a.severity, "grade": a.grade,
                    "raised_at": iso(a.raised_at), "cleared_at": iso(a.cleared_at)} for a in alerts],
        "features": [], "health": None,
    }
    if store is not None:
        try:
            rows = store.query("vibration", device_id, int(start * 1000), int(end * 1000), every_ms=3_600_000,
                               limit=500)
            out["features"] = [{"ts": iso(r.ts_ms / 1000), **{k: v for k, v in r.fields.items()
                                                              if isinstance(v, (int, float))}} for r in rows]
        except Exception as exc:  # noqa: BLE001 - the complaint is registered without telemetry; said so
            log.warning("telemetry evidence for %s unavailable: %s", device_id, exc)
            out["features_error"] = f"{type(exc).__name__}: {exc}"
    if health is not None:
        try:
            out["health"] = health(device_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("health of %s unavailable: %s", device_id, exc)
    return out


def _first_warning(s: Session, device_id: str, fm: str | None, t: float, lookback_d: float) -> float | None:
    q = select(Alert.raised_at).where(Alert.device_id == device_id, Alert.raised_at <= t,
                                      Alert.raised_at >= t - lookback_d * 86400, Alert.failure_mode != "silent")
    if fm:
        q = q.where(Alert.failure_mode == fm)
    return s.scalar(q.order_by(Alert.raised_at).limit(1))


def _target_ticket(s: Session, device_id: str | None, fm: str | None) -> Ticket | None:
    if not device_id:
        return None
    if fm:
        return find_open(s, device_id, fm)
    return s.scalars(select(Ticket).where(Ticket.kind == "unit", Ticket.is_open.is_(True),
                                          Ticket.device_id == device_id)
                     .order_by(Ticket.opened_at.desc(), Ticket.id.desc())).first()


def registered_serial(registry: Any, serial: str) -> str | None:
    """The serial as registered of the unit ``serial`` names in any letter case (``p-0002`` in a customer's
    email is unit ``P-0002``: docs/devices.md), None when no unit has it. A registry without
    ``find_unit`` is asked for the exact serial."""
    find = getattr(registry, "find_unit", None)
    if find is None:
        return serial if registry.get_unit(serial) is not None else None
    unit = find(serial)
    return None if unit is None else unit.device_id


def register(
    s: Session, data: dict[str, Any] | ComplaintIn, *, cfg: Any, registry: Any, now: float, actor: str,
    store: Any = None, health: Any = None, notifier: Any = None,
) -> tuple[Complaint, Ticket, bool]:
    """Register one complaint in ``s``; returns (complaint, ticket, created). A known ``external_ref``
    returns the earlier complaint unchanged (``created`` False)."""
    c = data if isinstance(data, ComplaintIn) else check_complaint(data)
    check_sizes(c.attachments, cfg)
    if c.external_ref:
        old = s.scalars(select(Complaint).where(Complaint.external_ref == c.external_ref)).first()
        if old is not None:
            return old, s.get_one(Ticket, old.ticket_id), False
    unit: dict[str, Any] = {"model": c.model, "customer": c.customer, "site": c.site, "firmware": None, "batch": None}
    owner = None  # the unit's registered customer: who the ticket's messages are for
    if c.device_id:
        registered = c.device_id if registry is None else registered_serial(registry, c.device_id)
        if registered is None:
            raise ValueError(f"complaint refused: unit {c.device_id!r} is not registered; give a registered serial, "
                             "or the model and site")
        if registered != c.device_id:  # its ticket, warnings, evidence and the complaint itself: under the unit's
            c = c.model_copy(update={"device_id": registered})
        known = unit_attrs(registry, c.device_id)
        owner = known.get("customer")
        # the registry's customer, not the complaint's say, is the ticket's (the complaint keeps what it said)
        unit = {k: known.get(k) or unit.get(k) for k in unit}
    elif getattr(registry, "get_model", None) is not None and registry.get_model(c.model) is None:
        # a misspelt model would stand in the reports' Pareto by model as a model of its own
        raise ValueError(f"complaint refused: model {c.model!r} is not registered; give a registered model, "
                         "or the unit serial")
    customer = c.customer or unit.get("customer")
    if not customer:
        raise ValueError("complaint refused: customer: required (the unit has no customer on record)" if c.device_id
                         else "complaint refused: customer: required when the unit serial is not given")
    occurred = c.occurred_at.timestamp()
    if occurred > now + 3600:
        raise ValueError(f"complaint refused: occurred_at {c.occurred_at.isoformat()} lies in the future")
    fm = c.failure_mode
    evidence = _evidence(s, c.device_id, occurred, cfg, store, health) if c.device_id else {}
    if c.device_id:
        # the unit's open tickets' write lock (row locks on PostgreSQL, the write lock on SQLite) before the
        # look for one to join: a ticket closed meanwhile got the complaint, and nobody followed it up
        s.execute(update(Ticket).where(Ticket.kind == "unit", Ticket.device_id == c.device_id,
                                       Ticket.is_open.is_(True)).values(number=Ticket.number)
                  .execution_options(synchronize_session=False))
    ticket = _target_ticket(s, c.device_id, fm)
    joined = ticket is not None
    if ticket is None:
        grade = c.grade or cfg.complaint_grade
        where = c.device_id or f"{unit.get('model')} at {unit.get('site')}"
        d2 = {"unit": c.device_id, **unit, "failure_mode": fm or CUSTOMER_MODE,
              "reported_by": "customer", "complaint": c.description[:2000], "customer_request": c.request,
              "occurred_at": iso(occurred), "telemetry_evidence": evidence}
        ticket = open_ticket(s, cfg, now=now, failure_mode=fm or CUSTOMER_MODE, grade=grade, actor=actor,
                             device_id=c.device_id, unit=unit, d2=d2,
                             title=f"Customer complaint: {where}: {c.description[:120]}")
        ticket.source = "customer"
        # the third complaint about a unit in 30 days is a repeat too; a fleet problem open for its model,
        # batch or firmware and failure mode gets it linked, as a ticket Foreshock opens would be
        for rep in check_repeat(s, cfg, ticket, now) + link_open_fleet(s, cfg, ticket, now):
            if notifier is not None:
                event = "ticket.repeat_failure" if rep.kind == "repeat_failure" else "fleet." + rep.kind
                notifier.enqueue(s, event, {
                    "ticket": rep.ticket, "device_id": rep.device_id, "failure_mode": rep.failure_mode,
                    "grade": rep.grade, **rep.detail}, customer=ticket.customer, site=unit.get("site"),
                    model=unit.get("model"), grade=rep.grade or "major")
    else:
        record(s, ticket, "complaint_joined", actor=actor, now=now, customer=customer, channel=c.channel)
        if c.grade and GRADE_ORDER[c.grade] > GRADE_ORDER[ticket.grade]:
            regrade(s, ticket, cfg, c.grade, actor=actor, now=now)
    warned = None
    if c.device_id:
        mode = ticket.failure_mode if joined else fm
        # a ticket of an unclassified complaint names no failure mode: any warning of the unit counts, as it
        # did for the complaint that opened it
        warned = _first_warning(s, c.device_id, None if mode == CUSTOMER_MODE else mode, occurred,
                                cfg.complaint_warning_lookback_d)
        if joined and ticket.source == "proactive" and ticket.opened_at <= occurred:
            warned = min(x for x in (warned, ticket.opened_at) if x is not None)
    check = customer_check(s, c, owner or ticket.customer)
    if c.device_id:  # a copy: the ticket's D2 holds the telemetry evidence as it was
        evidence = {**evidence, "customer_check": check}
    row = Complaint(
        ticket_id=ticket.id, channel=c.channel, external_ref=c.external_ref, customer=customer,
        contact_name=c.contact.name, contact_email=c.contact.email, contact_phone=c.contact.phone,
        device_id=c.device_id, model=unit.get("model"), site=unit.get("site"), failure_mode=fm,
        description=c.description, occurred_at=occurred, request=c.request,
        attachments=[a.meta() for a in c.attachments], received_at=now, joined=joined,
        warned_at=warned, warning_lead_s=None if warned is None else round(occurred - warned, 1), evidence=evidence)
    s.add(row)
    s.flush()  # a concurrent twin (same external_ref, or a second ticket for the unit) fails here: the caller retries
    if any(a.data is not None for a in c.attachments):
        store_attachments(s, row, c.attachments, now)
    record(s, ticket, "complaint", actor=actor, now=now, complaint_id=row.id, channel=c.channel,
           request=c.request, preceded_by_warning=warned is not None)
    if not check["tied"]:
        record(s, ticket, "complaint_flagged", actor=actor, now=now, complaint_id=row.id, reason=check["why"])
        log.warning("complaint %d on %s flagged: %s", row.id, ticket.number, check["why"])
    if notifier is not None:
        notifier.enqueue(s, "ticket.complaint", {
            "ticket": ticket.number, "device_id": c.device_id, "failure_mode": ticket.failure_mode,
            "customer": customer, "request": c.request, "joined": joined, "flagged": not check["tied"],
            "warning_lead_s": row.warning_lead_s}, customer=ticket.customer or customer, site=unit.get("site"),
            model=unit.get("model"), grade=ticket.grade)
    log.info("complaint %d from %s (%s) %s ticket %s", row.id, customer, c.channel,
             "joined" if joined else "opened", ticket.number)
    return row, ticket, True
