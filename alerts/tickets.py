"""Ticket records inside one session: opening, states, audit trail, 8D, feedback, serialisation.

States: ``received → triaged → investigating → action_taken → verifying → closed``, and
``closed → reopened → triaged | investigating | closed``. A step may go back one stage from ``verifying`` to
``investigating`` (verification failed) and any open ticket may be closed directly (e.g. a
false alarm). Leaving ``received`` stops the response clock; ``closed`` stops the resolution clock,
and reopening starts it again with the time it had left (the time spent closed does not count).

>>> can_move("received", "triaged"), can_move("received", "verifying")
(True, False)
>>> can_move("closed", "reopened"), can_move("reopened", "investigating")
(True, True)
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.config import AlertConfig
from alerts.models import Ticket, TicketEvent, TicketLink
from alerts.numbering import next_number
from detectors.types import FAILURE_MODES

__all__ = [
    "COMMENT_MAX_CHARS",
    "EIGHT_D",
    "EIGHT_D_MAX_CHARS",
    "STATUSES",
    "TRANSITIONS",
    "VERDICTS",
    "AlreadyOpen",
    "TicketError",
    "add_comment",
    "assign",
    "can_move",
    "eight_d_size",
    "empty_8d",
    "failure_mode_name",
    "feedback_finding",
    "found_failure_mode",
    "find_open",
    "iso_zone_letter",
    "link",
    "move",
    "number_is",
    "open_ticket",
    "prefill_d2",
    "record",
    "regrade",
    "set_8d",
    "set_feedback",
    "ticket_dict",
    "unstorable",
    "withdraw_feedback",
]

log = logging.getLogger(__name__)

STATUSES = ("received", "triaged", "investigating", "action_taken", "verifying", "closed", "reopened")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("triaged", "closed"),
    "triaged": ("investigating", "closed"),
    "investigating": ("action_taken", "closed"),
    "action_taken": ("verifying", "closed"),
    "verifying": ("closed", "investigating"),
    "closed": ("reopened",),
    "reopened": ("triaged", "investigating", "closed"),
}
EIGHT_D = ("D2", "D3", "D4", "D5", "D6", "D7")
VERDICTS = ("confirmed", "false_alarm")


# what a technician can name as the actual failure (the detectors' names; 'anomaly' is not a finding)
FIELD_MODES = tuple(m for m in FAILURE_MODES if m != "anomaly")


class TicketError(ValueError):
    """A ticket operation that is not allowed; the message says why."""


class AlreadyOpen(TicketError):
    """A ticket cannot be reopened: another of its unit and failure mode is open (perhaps reopened by a
    concurrent writer since the caller looked)."""


def can_move(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, ())


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def record(
    session: Session, ticket: Ticket, action: str, *, actor: str, now: float,
    from_status: str | None = None, to_status: str | None = None, **detail: Any,
) -> TicketEvent:
    event = TicketEvent(ticket_id=ticket.id, at=now, actor=actor, action=action,
                        from_status=from_status, to_status=to_status, detail=detail)
    session.add(event)
    return event


def number_is(number: str) -> Any:
    """The condition that picks the ticket numbered ``number`` in any letter case: people read ticket numbers
    out on the phone and copy them from e-mails, and ``pf202611001`` is ``PF202611001``.

    Numbers are made upper case (:func:`alerts.numbering.format_number`) and stored as made; the number as
    typed is looked for too, so the unique index on ``tickets.number`` still finds the row.

    >>> str(number_is(" pf202611001").compile(compile_kwargs={"literal_binds": True}))
    "tickets.number IN (' pf202611001', 'PF202611001')"
    """
    return Ticket.number.in_(sorted({number, number.strip().upper()}))


def find_open(session: Session, device_id: str, failure_mode: str) -> Ticket | None:
    return session.scalars(select(Ticket).where(
        Ticket.kind == "unit", Ticket.is_open.is_(True),
        Ticket.device_id == device_id, Ticket.failure_mode == failure_mode,
    )).first()


def open_ticket(
    session: Session, cfg: AlertConfig, *, now: float, failure_mode: str, grade: str, actor: str = "foreshock",
    device_id: str | None = None, group_key: str | None = None, kind: str = "unit",
    unit: dict[str, Any] | None = None, d2: dict[str, Any] | None = None, title: str = "",
) -> Ticket:
    """Insert a new ticket with its number and clocks. The caller's transaction decides; a
    concurrent duplicate surfaces as ``IntegrityError`` at flush."""
    unit = unit or {}
    ticket = Ticket(
        number=next_number(session, now), kind=kind, device_id=device_id, group_key=group_key,
        failure_mode=failure_mode, grade=grade, status="received", is_open=True, title=title[:300],
        model=unit.get("model"), customer=unit.get("customer"), site=unit.get("site"),
        firmware=unit.get("firmware"), batch=unit.get("batch"), opened_at=now,
        response_due=now + cfg.response_s(grade), resolution_due=now + cfg.resolution_s(grade),
        response_breached=False, resolution_breached=False, escalation_level=0, repeat_failure=False,
        eight_d={"D2": d2 or {}}, comments=[],
    )
    session.add(ticket)
    session.flush()
    record(session, ticket, "opened", actor=actor, now=now, to_status="received", grade=grade)
    return ticket


def move(session: Session, ticket: Ticket, to_status: str, *, actor: str, now: float, note: str = "") -> None:
    if to_status not in STATUSES:
        raise TicketError(f"unknown ticket state {to_status!r} (expected one of {', '.join(STATUSES)})")
    if not can_move(ticket.status, to_status):
        allowed = ", ".join(TRANSITIONS.get(ticket.status, ())) or "none"
        raise TicketError(f"ticket {ticket.number} cannot move from {ticket.status} to {to_status} (allowed: {allowed})")
    if to_status == "reopened" and ticket.kind == "unit" and ticket.device_id:
        other = find_open(session, ticket.device_id, ticket.failure_mode)
        if other is not None:
            raise AlreadyOpen(
                f"ticket {ticket.number} cannot be reopened: {other.number} is already open for "
                f"{ticket.device_id} / {ticket.failure_mode}"
            )
    before = ticket.status
    ticket.status = to_status
    if before == "received" and ticket.responded_at is None:
        ticket.responded_at = now
    detail: dict[str, Any] = {}
    if to_status == "closed":
        ticket.is_open, ticket.closed_at = False, now
    elif to_status == "reopened":
        detail = _resume_resolution_clock(ticket, now)
        ticket.is_open, ticket.closed_at = True, None
    record(session, ticket, "moved", actor=actor, now=now, from_status=before, to_status=to_status, note=note,
           **detail)


def _resume_resolution_clock(ticket: Ticket, now: float) -> dict[str, Any]:
    """A reopened ticket's resolution clock goes on with the time it had left when it was closed: the
    time spent closed does not count. A clock already breached stays breached."""
    if ticket.closed_at is None or ticket.resolution_breached:
        return {}
    ticket.resolution_due += max(0.0, now - ticket.closed_at)
    return {"resolution_due": iso(ticket.resolution_due)}


def regrade(session: Session, ticket: Ticket, cfg: AlertConfig, grade: str, *, actor: str, now: float,
            **detail: Any) -> str:
    """Raise a ticket's grade; its due times move by the difference of the two grades' clocks (so they
    stay counted from the opening, plus any time the ticket spent closed). A response clock already
    answered has stopped: its due time stays, and an answer in time stays in time. Returns the grade
    before."""
    before, ticket.grade = ticket.grade, grade
    if ticket.responded_at is None:
        ticket.response_due += cfg.response_s(grade) - cfg.response_s(before)
    ticket.resolution_due += cfg.resolution_s(grade) - cfg.resolution_s(before)
    record(session, ticket, "regraded", actor=actor, now=now, before=before, after=grade, **detail)
    return before


def assign(
    session: Session, ticket: Ticket, *, actor: str, now: float, assignee: str | None = None,
    team: str | None = None,
) -> None:
    # a blank name ('  ' from a shell variable left empty) would read as assigned to nobody in particular
    assignee = assignee.strip() if assignee is not None else None
    team = team.strip() if team is not None else None
    for what, name in (("assignee", assignee), ("team", team)):
        if name == "":
            raise TicketError(f"assign: {what} must not be blank")
    if not assignee and not team:
        raise TicketError("assign needs a person (assignee) or a team")
    ticket.assignee = assignee or ticket.assignee
    ticket.team = team or ticket.team
    record(session, ticket, "assigned", actor=actor, now=now, assignee=ticket.assignee, team=ticket.team)


# every ticket of the API's ticket list carries its comments and 8D record: the limits hold whatever the way in
COMMENT_MAX_CHARS = 10_000
EIGHT_D_MAX_CHARS = 100_000  # one discipline's text, or its JSON


def add_comment(session: Session, ticket: Ticket, text: str, *, actor: str, now: float) -> None:
    if not text.strip():
        raise TicketError("a comment needs text")
    if len(text) > COMMENT_MAX_CHARS:
        raise TicketError(f"a comment of {len(text):,} characters is over the limit of {COMMENT_MAX_CHARS:,}; "
                          "attach long documents to a complaint or link them")
    ticket.comments = [*ticket.comments, {"at": now, "by": actor, "text": text}]
    record(session, ticket, "commented", actor=actor, now=now)


def empty_8d(content: Any) -> bool:
    """Whether ``content`` would leave a discipline empty: blank text, null, ``{}`` or ``[]``.

    >>> empty_8d("  \\n"), empty_8d(None), empty_8d({}), empty_8d("seal replaced"), empty_8d(0)
    (True, True, True, False, False)
    """
    if isinstance(content, str):
        return not content.strip()
    return content is None or (isinstance(content, (dict, list)) and not content)


EMPTY_8D = "the content is empty; a discipline is written over with new content, not cleared"


def eight_d_size(content: Any) -> int:
    """An 8D discipline's size in characters: its text, or its JSON.

    >>> eight_d_size("seal"), eight_d_size({"k": "ä"})
    (4, 10)
    """
    return len(content) if isinstance(content, str) else len(json.dumps(content, ensure_ascii=False))


def unstorable(value: Any, where: str = "content") -> str | None:
    """What in ``value`` (text or JSON) JSON cannot hold, naming where, or None: a lone UTF-16 surrogate (no
    character: it cannot be encoded as UTF-8, and every answer carrying it failed) or NaN / Infinity.

    >>> unstorable({"a": [1.5, "ok \U0001F600"]}) is None
    True
    >>> print(unstorable({"a": ["x", "\\udfff"]}))
    content.a.1: text with a lone UTF-16 surrogate ('\\udfff'), which is no character
    >>> print(unstorable([float("nan")]))
    content.0: NaN is not a number JSON can hold
    """
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            bad = next((ch for ch in node if "\ud800" <= ch <= "\udfff"), None)
            if bad is not None:
                return f"{path}: text with a lone UTF-16 surrogate ({bad!r}), which is no character"
        elif isinstance(node, float) and node != node:
            return f"{path}: NaN is not a number JSON can hold"
        elif isinstance(node, float) and node in (float("inf"), float("-inf")):
            return f"{path}: {'-' if node < 0 else ''}Infinity is not a number JSON can hold"
        elif isinstance(node, dict):
            for k in node:
                if isinstance(k, str) and (problem := unstorable(k, path)) is not None:
                    return problem.replace("text with", "a key with", 1)
            stack.extend((v, f"{path}.{k}") for k, v in reversed(node.items()))
        elif isinstance(node, (list, tuple)):
            stack.extend((v, f"{path}.{i}") for i, v in reversed(list(enumerate(node))))
    return None


def set_8d(session: Session, ticket: Ticket, discipline: str, content: Any, *, actor: str, now: float) -> None:
    d = discipline.upper()
    if d not in EIGHT_D:
        raise TicketError(f"unknown 8D discipline {discipline!r} (expected one of {', '.join(EIGHT_D)})")
    if empty_8d(content):  # blanks typed over D4 looked like a written discipline and hid what it said
        raise TicketError(f"8D {d}: {EMPTY_8D}")
    problem = unstorable(content)
    if problem is not None:  # stored, it made every answer carrying the ticket fail (the API's ticket list too)
        raise TicketError(f"8D {d}: {problem}; nothing was stored")
    size = eight_d_size(content)
    if size > EIGHT_D_MAX_CHARS:  # the API refused it; the command line stored any size
        raise TicketError(f"8D {d}: {size:,} characters, over the limit of {EIGHT_D_MAX_CHARS:,} for one 8D "
                          "discipline; attach long documents to a complaint or link them")
    before = ticket.eight_d.get(d)
    ticket.eight_d = {**ticket.eight_d, d: content}
    # what it replaces stays in the audit trail: D2's prefilled evidence cannot be typed again
    kept = {"before": before} if before not in (None, "", {}) and before != content else {}
    record(session, ticket, "8d_updated", actor=actor, now=now, discipline=d, **kept)


def failure_mode_name(text: str, *, names: tuple[str, ...] = FIELD_MODES, what: str = "failure mode") -> str:
    """A failure mode as tickets name it: one of ``names`` (``outer race`` and ``Outer-Race`` are
    ``outer_race``) or ``other: <description>``. Anything else is refused with the names, so that a
    typo neither opens a second ticket beside the unit's open one nor drops out of every count.

    >>> failure_mode_name("Outer race"), failure_mode_name("other:  seal leak")
    ('outer_race', 'other: seal leak')
    """
    t = text.strip()
    if t.lower().startswith("other:"):
        desc = t[len("other:"):].strip()
        if not desc:
            raise TicketError(f"{what} 'other:' needs a description, e.g. 'other: seal leak'")
        return f"other: {desc}"
    name = re.sub(r"[\s\-]+", "_", t.lower())
    if name in names:
        return name
    raise TicketError(f"unknown {what} {text!r}: expected one of {', '.join(names)}, "
                      "or 'other: <description>' for a mode outside them")


def field_failure_mode(text: str | None) -> str | None:
    """The failure mode a technician found (:func:`failure_mode_name`); None when not given."""
    if text is None or not text.strip():
        return None
    return failure_mode_name(text, what="actual failure mode")


FINDINGS = ("as_warned", "different_fault", "no_fault")


def feedback_finding(failure_mode: str | None, verdict: str | None, actual: str | None) -> str | None:
    """What the technician's feedback says was found, in one word the statistics count by:

    - ``as_warned``: the fault the ticket names (``confirmed``, no other mode given);
    - ``different_fault``: another fault of the machine (``confirmed`` with another mode, or a
      ``false_alarm`` that names one of the detectors' modes: the warning was wrong about *what*, not
      about *whether*);
    - ``no_fault``: nothing wrong with the machine (``false_alarm``, perhaps with ``other: sensor loose``).

    >>> feedback_finding("outer_race", "confirmed", None), feedback_finding("outer_race", "confirmed", "imbalance")
    ('as_warned', 'different_fault')
    >>> feedback_finding("outer_race", "false_alarm", "other: sensor loose"), feedback_finding("outer_race", "false_alarm", "ball")
    ('no_fault', 'different_fault')
    """
    if verdict not in VERDICTS:
        return None
    if verdict == "confirmed":
        return "as_warned" if actual in (None, failure_mode) else "different_fault"
    return "different_fault" if actual in FIELD_MODES else "no_fault"


def found_failure_mode(ticket: Ticket) -> str | None:
    """The failure mode a ticket counts as in failure statistics (Pareto, TOP-5, corrective actions, repeat
    failures, surges): the one found on site when the feedback names another, the ticket's own without
    feedback, and None when the technician found no fault (a false alarm: no failure to count)."""
    fb = ticket.feedback or {}
    finding = fb.get("finding") or feedback_finding(ticket.failure_mode, ticket.feedback_verdict,
                                                    fb.get("actual_failure_mode"))
    if finding == "no_fault":
        return None
    if finding == "different_fault":
        return fb.get("actual_failure_mode") or ticket.failure_mode
    return ticket.failure_mode


def set_feedback(
    session: Session, ticket: Ticket, verdict: str, *, actor: str, now: float,
    actual_failure_mode: str | None = None, cause: str = "", action: str = "",
) -> TicketEvent:
    """Store the field's verdict on ``ticket`` and record it, with what it replaced, in the audit trail.
    Returns the audit entry."""
    if verdict not in VERDICTS:
        raise TicketError(f"feedback verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    actual = field_failure_mode(actual_failure_mode)
    if verdict == "false_alarm" and actual is not None and actual == ticket.failure_mode:
        raise TicketError(
            f"ticket {ticket.number}: a false alarm cannot have found the fault it warned of ({actual}); "
            "record 'confirmed' when that fault was found, or 'false_alarm' without it when nothing was")
    before = ticket.feedback
    ticket.feedback_verdict = verdict
    ticket.feedback = {
        "verdict": verdict, "actual_failure_mode": actual or (
            ticket.failure_mode if verdict == "confirmed" else None),
        "finding": feedback_finding(ticket.failure_mode, verdict, actual),
        "cause": cause, "action": action, "by": actor, "at": now,
    }
    detail: dict[str, Any] = {k: ticket.feedback[k] for k in ("verdict", "actual_failure_mode", "finding", "cause")}
    detail["field_action"] = action  # 'action' names the audit entry itself
    if before:  # a verdict typed over stays in the history: who said what before
        detail["before"] = before
    return record(session, ticket, "feedback", actor=actor, now=now, **detail)


def withdraw_feedback(session: Session, ticket: Ticket, *, actor: str, now: float, reason: str = "") -> TicketEvent:
    """Take back a verdict recorded by mistake: the ticket has no feedback again (it counts as a warning
    nobody judged) and the withdrawn verdict stays in the audit trail."""
    if ticket.feedback_verdict is None and not ticket.feedback:
        raise TicketError(f"ticket {ticket.number} has no feedback to withdraw")
    if not reason.strip():
        raise TicketError("withdrawing feedback needs a reason (what was wrong with it)")
    before = ticket.feedback
    ticket.feedback_verdict, ticket.feedback = None, None
    return record(session, ticket, "feedback_withdrawn", actor=actor, now=now, reason=reason.strip(), before=before)


def link(session: Session, ticket: Ticket, other: Ticket, reason: str) -> bool:
    """Link two tickets once; returns whether a new link was made."""
    exists = session.scalars(select(TicketLink.id).where(
        TicketLink.ticket_id == ticket.id, TicketLink.linked_id == other.id, TicketLink.reason == reason,
    )).first()
    if exists is not None or ticket.id == other.id:
        return False
    session.add(TicketLink(ticket_id=ticket.id, linked_id=other.id, reason=reason))
    return True


def iso_zone_letter(zone: Any) -> Any:
    """The ISO 20816 zone as its letter: the detectors' feature counts zones 0..3 for A..D, and zone A (0.0)
    was dropped from D2 as if unknown. A letter or anything else is kept as it is.

    >>> iso_zone_letter(0.0), iso_zone_letter(2), iso_zone_letter("C"), iso_zone_letter(None)
    ('A', 'C', 'C', None)
    """
    if isinstance(zone, (int, float)) and not isinstance(zone, bool) and zone in (0, 1, 2, 3):
        return "ABCD"[int(zone)]
    return zone


def prefill_d2(device_id: str, unit: dict[str, Any], assessment: Any, first_ts: float) -> dict[str, Any]:
    """D2 problem description from the telemetry that raised the ticket."""
    features = dict(getattr(assessment, "features", {}) or {})
    evidence = list(getattr(assessment, "evidence", []) or [])
    peaks = [e for e in evidence if any(k in e for k in ("freq_hz", "frequency_hz", "peak_hz", "peaks"))]
    zones = [features.get("iso_zone"), *(e.get(k) for e in evidence for k in ("iso_zone", "zone"))]
    zone = iso_zone_letter(next((z for z in zones if z is not None and z != ""), None))
    ts = float(getattr(assessment, "ts", first_ts))
    return {
        "unit": device_id, "model": unit.get("model"), "customer": unit.get("customer"), "site": unit.get("site"),
        "firmware": unit.get("firmware"), "batch": unit.get("batch"),
        "failure_mode": getattr(assessment, "failure_mode", None) or "anomaly",
        "state": getattr(assessment, "state", None), "confidence": getattr(assessment, "confidence", None),
        "window": {"from": iso(first_ts), "to": iso(ts)},
        "features": {k: v for k, v in features.items() if isinstance(v, (int, float, str))},
        "iso_zone": zone, "spectral_peaks": peaks, "reasons": list(getattr(assessment, "reasons", []) or []),
        "time_left_s": {
            "estimate": getattr(assessment, "ttf_s", None), "low": getattr(assessment, "ttf_low_s", None),
            "high": getattr(assessment, "ttf_high_s", None),
        },
    }


def ticket_dict(ticket: Ticket, *, events: list[TicketEvent] | None = None,
                links: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        c: getattr(ticket, c) for c in (
            "number", "kind", "device_id", "group_key", "failure_mode", "grade", "status", "is_open", "title",
            "assignee", "team", "model", "customer", "site", "firmware", "batch", "escalation_level",
            "repeat_failure", "response_breached", "resolution_breached", "feedback_verdict", "feedback",
            "eight_d", "comments", "source", "customer_followup",
        )
    }
    for c in ("opened_at", "response_due", "resolution_due", "responded_at", "closed_at"):
        out[c] = iso(getattr(ticket, c))
    if events is not None:
        out["audit"] = [{"at": iso(e.at), "by": e.actor, "action": e.action, "from": e.from_status,
                         "to": e.to_status, "detail": e.detail} for e in events]
    if links is not None:
        out["links"] = links
    return out
