"""Escalations that look beyond one ticket: repeat failures of a unit, fleet surges.

*Repeat failure*: when a unit has ``repeat_count`` (3) or more tickets of one failure mode opened
within ``repeat_window_d`` (30) days (not counting tickets judged false alarms), the newest is escalated (one level up, grade at least
major) and linked to the others.

*Fleet surge*: for each dimension (model, production batch, firmware) of the unit that just got
a ticket, count the distinct units of that group with a ticket of this failure mode in the
recent window (``surge_window_d``) and in the trailing baseline window before it
(``surge_baseline_d``). The group's unit count is the same in both windows, so the ratio of
counts (scaled to the same length) is the ratio of rates. A surge is ``recent >=
surge_min_units`` and ``recent >= surge_ratio * max(expected, surge_baseline_floor)``; it opens
one fleet quality problem ticket per (group, failure mode) and links the units' tickets to it. While
that fleet ticket is open, every later unit ticket of the group and failure mode is linked to it,
whatever the counts of the moment.

>>> surge_ratio(recent=4, baseline=2, window_d=7, baseline_d=28, floor=0.5)
8.0
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from alerts.config import GRADE_ORDER, AlertConfig
from alerts.models import Ticket
from alerts.tickets import found_failure_mode, link, open_ticket, record, regrade
from alerts.types import Change

__all__ = ["check_repeat", "check_surge", "link_open_fleet", "surge_ratio"]

log = logging.getLogger(__name__)
DAY = 86400.0


def surge_ratio(*, recent: int, baseline: int, window_d: float, baseline_d: float, floor: float) -> float:
    expected = max(baseline * window_d / baseline_d, floor)
    return recent / expected


def _of_mode(fm: str) -> Any:
    """Tickets that may count as failures of ``fm``: those warning of it, and any with feedback (a different
    fault found on site counts under the mode found); :func:`found_failure_mode` then decides."""
    return or_(Ticket.failure_mode == fm, Ticket.feedback_verdict.is_not(None))


def check_repeat(session: Session, cfg: AlertConfig, ticket: Ticket, now: float) -> list[Change]:
    if ticket.kind != "unit" or ticket.device_id is None:
        return []
    since = now - cfg.repeat_window_d * DAY
    fm = ticket.failure_mode
    # each earlier ticket under the fault found on site: a false alarm was no failure, and an outer-race warning
    # where an inner race was found is an inner-race failure
    earlier = [t for t in session.scalars(select(Ticket).where(
        Ticket.kind == "unit", Ticket.device_id == ticket.device_id, _of_mode(fm),
        Ticket.opened_at >= since, Ticket.id != ticket.id,
    ).order_by(Ticket.opened_at)) if found_failure_mode(t) == fm]
    if len(earlier) + 1 < cfg.repeat_count:
        return []
    ticket.repeat_failure = True
    ticket.escalation_level += 1
    if GRADE_ORDER[ticket.grade] < GRADE_ORDER["major"]:
        regrade(session, ticket, cfg, "major", actor="foreshock", now=now, reason="repeat_failure")
    for other in earlier:
        link(session, ticket, other, "repeat")
    numbers = [t.number for t in earlier]
    record(session, ticket, "escalated", actor="foreshock", now=now, reason="repeat_failure", linked=numbers)
    log.info("repeat failure: %s %s has %d tickets in %.0f days", ticket.device_id, ticket.failure_mode,
             len(earlier) + 1, cfg.repeat_window_d)
    return [Change("repeat_failure", ticket.device_id, ticket.failure_mode, grade=ticket.grade,
                   ticket=ticket.number, detail={"linked": numbers, "count": len(earlier) + 1})]


def _failures(session: Session, dim: str, value: str, fm: str, start: float, end: float) -> list[Ticket]:
    """The group's unit tickets opened in (start, end] that are failures of ``fm`` by the fault found on site
    (no false alarm; a different fault under the mode found)."""
    col = getattr(Ticket, dim)
    rows = session.scalars(select(Ticket).where(
        Ticket.kind == "unit", col == value, _of_mode(fm), Ticket.opened_at > start, Ticket.opened_at <= end,
    ))
    return [t for t in rows if found_failure_mode(t) == fm]


def _units(session: Session, dim: str, value: str, fm: str, start: float, end: float) -> int:
    return len({t.device_id for t in _failures(session, dim, value, fm, start, end)})


def check_surge(session: Session, cfg: AlertConfig, ticket: Ticket, now: float) -> list[Change]:
    if ticket.kind != "unit":
        return []
    changes: list[Change] = []
    w, b = cfg.surge_window_d * DAY, cfg.surge_baseline_d * DAY
    for dim in cfg.surge_dimensions:
        value = getattr(ticket, dim, None)
        if not value:
            continue
        fleet = _open_fleet(session, f"{dim}:{value}", ticket.failure_mode)
        recent = _units(session, dim, value, ticket.failure_mode, now - w, now)
        if recent < cfg.surge_min_units and fleet is None:
            continue
        baseline = _units(session, dim, value, ticket.failure_mode, now - w - b, now - w)
        ratio = surge_ratio(recent=recent, baseline=baseline, window_d=cfg.surge_window_d,
                            baseline_d=cfg.surge_baseline_d, floor=cfg.surge_baseline_floor)
        if fleet is None and (recent < cfg.surge_min_units or ratio < cfg.surge_ratio):
            continue
        # a surge, or a later ticket of a group whose fleet ticket is still open: it is linked whatever the
        # counts of the moment say (the surge is that ticket's business until it is closed)
        changes.extend(_fleet_ticket(session, cfg, ticket, dim, value, now, recent, baseline, ratio, fleet))
    return changes


def link_open_fleet(session: Session, cfg: AlertConfig, ticket: Ticket, now: float) -> list[Change]:
    """Link a unit ticket that opens no fleet ticket itself (one a customer complaint opened) to the open
    fleet tickets of its groups and failure mode."""
    changes: list[Change] = []
    if ticket.kind != "unit":
        return changes
    for dim in cfg.surge_dimensions:
        value = getattr(ticket, dim, None)
        fleet = _open_fleet(session, f"{dim}:{value}", ticket.failure_mode) if value else None
        if fleet is not None and link(session, fleet, ticket, "fleet"):
            record(session, fleet, "linked", actor="foreshock", now=now, unit_ticket=ticket.number)
            changes.append(Change("fleet_ticket_linked", ticket.device_id, ticket.failure_mode,
                                  ticket=fleet.number, grade=fleet.grade,
                                  detail={"unit_ticket": ticket.number, "group": fleet.group_key}))
    return changes


def _open_fleet(session: Session, group: str, fm: str) -> Ticket | None:
    return session.scalars(select(Ticket).where(
        Ticket.kind == "fleet", Ticket.is_open.is_(True), Ticket.group_key == group,
        Ticket.failure_mode == fm,
    )).first()


def _fleet_ticket(
    session: Session, cfg: AlertConfig, ticket: Ticket, dim: str, value: str, now: float,
    recent: int, baseline: int, ratio: float, fleet: Ticket | None,
) -> list[Change]:
    group = f"{dim}:{value}"
    fm = ticket.failure_mode
    units = _failures(session, dim, value, fm, now - cfg.surge_window_d * DAY, now)
    stats: dict[str, Any] = {"group": group, "recent_units": recent, "baseline_units": baseline,
                             "ratio": round(ratio, 2), "window_d": cfg.surge_window_d,
                             "baseline_d": cfg.surge_baseline_d}
    changes: list[Change] = []
    if fleet is None:
        attrs = {dim: value}
        d2 = {**stats, "failure_mode": fm, "units": sorted({t.device_id for t in units if t.device_id})}
        fleet = open_ticket(session, cfg, now=now, failure_mode=fm, grade="major", kind="fleet", group_key=group,
                            unit=attrs, d2=d2, title=f"Fleet quality problem: {fm} on {dim} {value}")
        log.warning("fleet surge: %s %s at %.1fx baseline (%d units) -> %s", group, fm, ratio, recent, fleet.number)
        changes.append(Change("fleet_ticket_opened", None, fm, grade=fleet.grade, ticket=fleet.number,
                              detail={**stats, "units": d2["units"]}))
    for unit_ticket in units:
        if link(session, fleet, unit_ticket, "fleet"):
            record(session, fleet, "linked", actor="foreshock", now=now, unit_ticket=unit_ticket.number)
            if unit_ticket.id == ticket.id and len(changes) == 0:
                changes.append(Change("fleet_ticket_linked", ticket.device_id, fm, ticket=fleet.number,
                                      detail={"unit_ticket": ticket.number, **stats}))
    return changes
