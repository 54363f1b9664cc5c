"""Quality reports from the ticket history, as JSON-ready dicts and CSV.

The monthly report covers tickets and alerts *opened* in the month (of ``alerts.report_timezone``,
UTC by default): counts, the TOP-5
failure modes, Pareto tables by model / failure mode / firmware / customer (of the tickets, as the
detectors named them; ``failures`` gives the same tables of what was found on site: no false alarm, a
different fault under its own name), mean time to
acknowledge (opened → first response) and to resolve (opened → closed), SLA compliance per
grade and per kind of every ticket with clocks, unit and fleet (only clocks that have run out or
been answered count; ``sla_breaches`` is the table's missed clocks), and the field precision of
warnings (confirmed / (confirmed + false alarm)) from closure feedback, the complaints received
(how many were preceded by a Foreshock warning and by how long) and the verdicts of the corrective
actions applied up to the month's end.

>>> month_bounds("2026-11")
(1793491200.0, 1796083200.0)
>>> start, end = month_bounds("2026-03", "Europe/Berlin")  # 1 March 00:00 CET to 1 April 00:00 CEST
>>> start - month_bounds("2026-03")[0], (end - start) / 3600
(-3600.0, 743.0)
>>> pareto(["a", "b", "a", "c", "a", "b"])[0]
{'key': 'a', 'count': 3, 'share': 0.5, 'cumulative': 0.5}
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from statistics import mean, median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.config import GRADES, zone
from alerts.models import Alert, Complaint, CorrectiveAction, Ticket, TicketEvent
from alerts.tickets import found_failure_mode
from foreshock.csvcell import to_cell

__all__ = ["check_month", "field_precision", "month_bounds", "monthly_report", "pareto", "report_csv"]


def current_month(timezone: str = "UTC", now: datetime | None = None) -> str:
    """The month (``YYYY-MM``) it is now in ``timezone``: the report's default month.

    >>> current_month("Europe/Berlin", datetime.fromisoformat("2026-10-31T23:30:00+00:00"))
    '2026-11'
    """
    return (now or datetime.now(UTC)).astimezone(zone(timezone)).strftime("%Y-%m")


def check_month(month: str) -> tuple[int, int]:
    """Year and month of ``YYYY-MM`` from 1970-01 to 2999-12 (year 0000 and 9999-12 failed as "year 0 / 10000
    is out of range"); one message for every bad month, so that the API answers all of them alike.

    >>> check_month("2026-11")
    (2026, 11)
    >>> check_month("2026-13")
    Traceback (most recent call last):
    ...
    ValueError: expected YYYY-MM between 1970-01 and 2999-12 (e.g. 2026-11), got '2026-13'
    """
    m = re.fullmatch(r"([0-9]{4})-([0-9]{2})", month or "")
    if not m or not 1 <= int(m.group(2)) <= 12 or not 1970 <= int(m.group(1)) <= 2999:
        raise ValueError(f"expected YYYY-MM between 1970-01 and 2999-12 (e.g. 2026-11), got {month!r}")
    return int(m.group(1)), int(m.group(2))


def month_bounds(month: str, timezone: str = "UTC") -> tuple[float, float]:
    """Epoch seconds of the first instant of ``YYYY-MM`` and of the month after, in ``timezone`` (IANA)."""
    try:
        y, mo = check_month(month)
    except ValueError as exc:
        raise ValueError(f"month: {exc}") from None
    tz = zone(timezone)
    start = datetime(y, mo, 1, tzinfo=tz)
    end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=tz)
    return start.timestamp(), end.timestamp()


def pareto(keys: Iterable[str | None]) -> list[dict[str, Any]]:
    counts = Counter(k or "(unknown)" for k in keys)
    total = sum(counts.values())
    rows, running = [], 0
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        running += n
        rows.append({"key": key, "count": n, "share": round(n / total, 4), "cumulative": round(running / total, 4)})
    return rows


def _mean(values: list[float]) -> float | None:
    return round(mean(values), 1) if values else None


def _response_missed(t: Ticket) -> bool:
    """The response clock ran out unanswered (the sweep flagged it) or was answered after its due time."""
    return t.response_breached or (t.responded_at is not None and t.responded_at > t.response_due)


def _resolution_missed(t: Ticket) -> bool:
    """The resolution clock ran out open (the sweep flagged it) or the ticket was closed after its due
    time."""
    return t.resolution_breached or (t.closed_at is not None and t.closed_at > t.resolution_due)


def _sla(tickets: list[Ticket]) -> dict[str, Any]:
    """SLA compliance of every ticket with clocks, unit and fleet: per grade, per kind (``unit``,
    ``fleet``) and ``all``. A clock counts once it has been answered or has run out (flagged)."""
    groups: dict[str, list[Ticket]] = {g: [t for t in tickets if t.grade == g] for g in GRADES}
    groups.update({k: [t for t in tickets if t.kind == k] for k in ("unit", "fleet")})
    groups["all"] = tickets
    out: dict[str, Any] = {}
    for key, sel in groups.items():
        r_met = sum(1 for t in sel if t.responded_at is not None and not _response_missed(t))
        r_miss = sum(1 for t in sel if _response_missed(t))
        s_met = sum(1 for t in sel if t.closed_at is not None and not _resolution_missed(t))
        s_miss = sum(1 for t in sel if _resolution_missed(t))
        out[key] = {
            "tickets": len(sel), "response_met": r_met, "response_missed": r_miss,
            "response_compliance": round(r_met / (r_met + r_miss), 4) if r_met + r_miss else None,
            "resolution_met": s_met, "resolution_missed": s_miss,
            "resolution_compliance": round(s_met / (s_met + s_miss), 4) if s_met + s_miss else None,
        }
    return out


def _precision(tickets: list[Ticket]) -> dict[str, Any]:
    """Confirmed / (confirmed + false alarm) of Foreshock's own warnings: a ticket a customer's complaint
    opened was no warning, and its feedback says nothing about the detectors. ``diagnosis`` adds, of the
    warnings of a real fault, how many named the fault found on site (``named_right``) and how many named
    another (``named_other``: confirmed with another mode, or a false alarm that names the fault found)."""
    by_mode: dict[str, Counter] = {}
    named: dict[str, Counter] = {}
    for t in tickets:
        if t.feedback_verdict and (t.source or "proactive") == "proactive":
            by_mode.setdefault(t.failure_mode, Counter())[t.feedback_verdict] += 1
            found = found_failure_mode(t)
            if found is not None:
                named.setdefault(t.failure_mode, Counter())["named_right" if found == t.failure_mode
                                                             else "named_other"] += 1
    total = sum(by_mode.values(), Counter())

    def row(c: Counter) -> dict[str, Any]:
        n = c["confirmed"] + c["false_alarm"]
        return {"confirmed": c["confirmed"], "false_alarm": c["false_alarm"],
                "precision": round(c["confirmed"] / n, 4) if n else None}

    def named_row(c: Counter) -> dict[str, Any]:
        n = c["named_right"] + c["named_other"]
        return {"named_right": c["named_right"], "named_other": c["named_other"],
                "accuracy": round(c["named_right"] / n, 4) if n else None}

    return {"all": row(total), "by_failure_mode": {m: row(c) for m, c in sorted(by_mode.items())},
            "diagnosis": {"all": named_row(sum(named.values(), Counter())),
                          "by_failure_mode": {m: named_row(c) for m, c in sorted(named.items())}}}


def field_precision(session_factory: sessionmaker[Session], *, since: float | None = None,
                    until: float | None = None) -> dict[str, Any]:
    """Precision of warnings in the field, from closure feedback (for the detector evaluation)."""
    q = select(Ticket).where(Ticket.kind == "unit", Ticket.source == "proactive", Ticket.feedback_verdict.is_not(None))
    if since is not None:
        q = q.where(Ticket.opened_at >= since)
    if until is not None:
        q = q.where(Ticket.opened_at < until)
    with session_factory() as s:
        return _precision(list(s.scalars(q)))


def _complaints(rows: list[Complaint]) -> dict[str, Any]:
    """Complaints of the month, and how many Foreshock had warned of before the customer noticed."""
    warned = [c.warning_lead_s for c in rows if c.warning_lead_s is not None]
    hours = sorted(x / 3600 for x in warned)
    return {
        "received": len(rows), "by_channel": dict(Counter(c.channel for c in rows)),
        "by_request": dict(Counter(c.request for c in rows)),
        "joined_open_ticket": sum(1 for c in rows if c.joined),
        "preceded_by_warning": len(warned),
        "preceded_share": round(len(warned) / len(rows), 4) if rows else None,
        "lead_time_h": {"mean": round(mean(hours), 1) if hours else None,
                        "median": round(median(hours), 1) if hours else None,
                        "min": round(hours[0], 1) if hours else None},
    }


def _iso(ts: float, timezone: str) -> str:
    """``ts`` (epoch seconds) as ISO 8601 with the offset of ``timezone`` then."""
    return datetime.fromtimestamp(ts, zone(timezone)).isoformat()


def _actions(rows: list[CorrectiveAction], timezone: str) -> list[dict[str, Any]]:
    out = []
    for a in rows:
        v = a.verdict or {}
        out.append({"id": a.id, "title": a.title, "scope": a.scope,
                    "applied_at": datetime.fromtimestamp(a.applied_at, zone(timezone)).date().isoformat(),
                    "verdict": v.get("verdict", "not_verified"), "ratio": v.get("ratio"), "ci_low": v.get("ci_low"),
                    "ci_high": v.get("ci_high"), "more_unit_days": v.get("more_unit_days"),
                    "statement": v.get("statement"),
                    # the verdict is the last one computed, not this month's: when it was says how stale it is
                    "verified_at": _iso(a.verified_at, timezone) if a.verified_at is not None else None})
    return out


def _closed_unverified(s: Session, closed: list[Ticket]) -> int:
    """How many of these closed tickets were last closed from a state other than ``verifying`` without
    being a false alarm: the action was never checked (the state machine allows it, the report shows it)."""
    if not closed:
        return 0
    last_from: dict[int, str | None] = {}
    for tid, before in s.execute(select(TicketEvent.ticket_id, TicketEvent.from_status).where(
            TicketEvent.ticket_id.in_([t.id for t in closed]), TicketEvent.action == "moved",
            TicketEvent.to_status == "closed").order_by(TicketEvent.id)):
        last_from[tid] = before
    return sum(1 for t in closed if last_from.get(t.id) != "verifying" and found_failure_mode(t) is not None)


def monthly_report(session_factory: sessionmaker[Session], month: str, *, timezone: str = "UTC") -> dict[str, Any]:
    """The report of ``month`` (``YYYY-MM``), its first and last instant in ``timezone`` (IANA name)."""
    start, end = month_bounds(month, timezone)
    with session_factory() as s:
        tickets = list(s.scalars(select(Ticket).where(Ticket.opened_at >= start, Ticket.opened_at < end)))
        closed = list(s.scalars(select(Ticket).where(Ticket.closed_at >= start, Ticket.closed_at < end)))
        alerts = list(s.scalars(select(Alert).where(Alert.raised_at >= start, Alert.raised_at < end)))
        complaints = list(s.scalars(select(Complaint).where(Complaint.received_at >= start,
                                                            Complaint.received_at < end)))
        actions = list(s.scalars(select(CorrectiveAction).where(CorrectiveAction.applied_at < end)
                                 .order_by(CorrectiveAction.applied_at)))
        closed_unit = [t for t in closed if t.kind == "unit"]
        unverified = _closed_unverified(s, closed_unit)
    unit = [t for t in tickets if t.kind == "unit"]
    # the failures among them, each under the failure mode found on site: a false alarm (no fault found) is
    # no failure, and a ticket whose technician found another fault counts as that fault
    failures = [(t, mode) for t in unit if (mode := found_failure_mode(t)) is not None]
    modes = pareto(t.failure_mode for t in unit)
    found = pareto(mode for _, mode in failures)
    sla = _sla(tickets)
    return {
        "month": month,
        "timezone": timezone,
        "period": {"start": _iso(start, timezone), "end": _iso(end, timezone)},
        "alerts": {"raised": len(alerts), "by_severity": dict(Counter(a.severity for a in alerts)),
                   "acknowledged": sum(1 for a in alerts if a.acknowledged_at is not None)},
        "tickets": {
            "opened": len(unit), "closed": len(closed_unit), "closed_unverified": unverified,
            "false_alarms": len(unit) - len(failures), "different_fault_found": sum(
                1 for t, mode in failures if mode != t.failure_mode),
            "by_grade": {g: sum(1 for t in unit if t.grade == g) for g in GRADES},
            "repeat_failures": sum(1 for t in unit if t.repeat_failure),
            "fleet_problems": sum(1 for t in tickets if t.kind == "fleet"),
            # breached clocks of every ticket of the month, unit and fleet: the SLA table's "all" row
            "sla_breaches": sla["all"]["response_missed"] + sla["all"]["resolution_missed"],
        },
        "top5_failure_modes": [{"failure_mode": r["key"], "count": r["count"]} for r in modes[:5]],
        "pareto": {
            "model": pareto(t.model for t in unit), "failure_mode": modes,
            "firmware": pareto(t.firmware for t in unit), "customer": pareto(t.customer for t in unit),
        },
        "failures": {
            "count": len(failures),
            "top5_failure_modes": [{"failure_mode": r["key"], "count": r["count"]} for r in found[:5]],
            "pareto": {
                "model": pareto(t.model for t, _ in failures), "failure_mode": found,
                "firmware": pareto(t.firmware for t, _ in failures),
                "customer": pareto(t.customer for t, _ in failures),
            },
        },
        "mtta_s": _mean([t.responded_at - t.opened_at for t in unit if t.responded_at is not None]),
        "mttr_s": _mean([t.closed_at - t.opened_at for t in unit if t.closed_at is not None]),
        "sla": sla,
        "field_precision": _precision(unit),
        "complaints": _complaints(complaints),
        "corrective_actions": _actions(actions, timezone),
    }


def report_csv(report: dict[str, Any]) -> str:
    """The monthly report flattened to ``section,key,metric,value`` rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")

    def put(cells: list[Any]) -> None:  # a customer or firmware named "=..." stays text in a spreadsheet
        writer.writerow([to_cell(c) for c in cells])

    put(["section", "key", "metric", "value"])
    if "period" in report:
        for metric in ("start", "end"):
            put(["period", report["timezone"], metric, report["period"][metric]])
    for section in ("alerts", "tickets"):
        for k, v in report[section].items():
            for metric, value in (v.items() if isinstance(v, dict) else [("count", v)]):
                put([section, k, metric, value])
    for r in report["top5_failure_modes"]:
        put(["top5", r["failure_mode"], "count", r["count"]])
    for dim, rows in report["pareto"].items():
        for r in rows:
            for metric in ("count", "share", "cumulative"):
                put([f"pareto_{dim}", r["key"], metric, r[metric]])
    failures = report.get("failures", {})
    if failures:
        put(["failures", "all", "count", failures["count"]])
    for r in failures.get("top5_failure_modes", []):
        put(["failures_top5", r["failure_mode"], "count", r["count"]])
    for dim, rows in failures.get("pareto", {}).items():
        for r in rows:
            for metric in ("count", "share", "cumulative"):
                put([f"failures_pareto_{dim}", r["key"], metric, r[metric]])
    put(["times", "mtta_s", "mean", report["mtta_s"]])
    put(["times", "mttr_s", "mean", report["mttr_s"]])
    for grade, row in report["sla"].items():
        for metric, value in row.items():
            put(["sla", grade, metric, value])
    for metric, value in report["field_precision"]["all"].items():
        put(["field_precision", "all", metric, value])
    for metric, value in report["field_precision"].get("diagnosis", {}).get("all", {}).items():
        put(["field_precision", "diagnosis", metric, value])
    c = report.get("complaints", {})
    for metric in ("received", "joined_open_ticket", "preceded_by_warning", "preceded_share"):
        if metric in c:
            put(["complaints", "all", metric, c[metric]])
    for metric, value in c.get("lead_time_h", {}).items():
        put(["complaints", "lead_time_h", metric, value])
    for a in report.get("corrective_actions", []):
        for metric in ("verdict", "ratio", "ci_low", "ci_high", "more_unit_days", "verified_at"):
            put(["corrective_action", a["id"], metric, a.get(metric)])
    return buf.getvalue()
