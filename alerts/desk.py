"""What people do with alerts and tickets, and the clocks: the service desk half of AlertService.

Every operation takes the acting person (``actor``) and is recorded in the ticket's audit
trail; a bad ticket number, state, verdict or 8D discipline raises :class:`TicketError` naming it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.models import Alert, MaintenanceWindow, Ticket, TicketEvent, TicketLink
from alerts.tickets import (
    TicketError,
    add_comment,
    assign,
    found_failure_mode,
    iso,
    move,
    number_is,
    record,
    set_8d,
    set_feedback,
    ticket_dict,
    withdraw_feedback,
)
from alerts.types import Change
from alerts.units import unit_attrs

__all__ = ["TicketDesk", "TicketError", "alert_dict"]

log = logging.getLogger(__name__)


def alert_dict(a: Alert, ticket_number: str | None = None) -> dict[str, Any]:
    out = {c: getattr(a, c) for c in ("id", "device_id", "failure_mode", "severity", "grade", "status",
                                      "flapping", "acknowledged_by", "detail")}
    for c in ("raised_at", "escalated_at", "cleared_at", "acknowledged_at", "last_ts"):
        out[c] = iso(getattr(a, c))
    out["ticket"] = ticket_number
    return out


class TicketDesk:
    """Mixed into :class:`alerts.service.AlertService`, which provides the attributes below."""

    _sf: Any
    config: Any
    clock: Any
    notifier: Any
    registry: Any
    _open: Any
    _lock: Any

    # --- helpers ------------------------------------------------------------------------------
    def _ticket(self, s: Session, number: str) -> Ticket:
        t = s.scalars(select(Ticket).where(number_is(number))).first()
        if t is None:
            raise TicketError(f"no ticket {number!r}")
        return t

    def _full(self, s: Session, t: Ticket) -> dict[str, Any]:
        events = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id)))
        rows = s.execute(select(TicketLink, Ticket.number).join(Ticket, Ticket.id == TicketLink.linked_id)
                         .where(TicketLink.ticket_id == t.id)).all()
        back = s.execute(select(TicketLink, Ticket.number).join(Ticket, Ticket.id == TicketLink.ticket_id)
                         .where(TicketLink.linked_id == t.id)).all()
        links = [{"ticket": n, "reason": lk.reason} for lk, n in rows]
        links += [{"ticket": n, "reason": lk.reason, "direction": "from"} for lk, n in back]
        return ticket_dict(t, events=events, links=links)

    def _notify_ticket(self, s: Session, t: Ticket, event: str, **extra: Any) -> None:
        if self.notifier is not None:
            payload = {"ticket": t.number, "device_id": t.device_id, "failure_mode": t.failure_mode,
                       "grade": t.grade, "status": t.status, **extra}
            self.notifier.enqueue(s, event, payload, customer=t.customer, site=t.site, model=t.model, grade=t.grade)

    def _op(self, number: str, fn) -> dict[str, Any]:
        try:
            return self._apply(number, fn)
        except IntegrityError:
            # two closed tickets of one unit and failure mode reopened at once (PostgreSQL locks only each
            # ticket's row): the unique index of open tickets lets one through; the retry sees it and refuses
            # this one by name instead of failing with the index's error
            log.info("change to ticket %s raced another writer; retrying", number)
            return self._apply(number, fn)

    def _apply(self, number: str, fn) -> dict[str, Any]:
        with self._sf.begin() as s:
            # the ticket's write lock first (a row lock on PostgreSQL, the write lock on SQLite): two people
            # changing one ticket at once are applied one after the other, each to what the other left
            s.execute(update(Ticket).where(number_is(number)).values(number=Ticket.number)
                      .execution_options(synchronize_session=False))
            t = self._ticket(s, number)
            fn(s, t, self.clock())
            s.flush()
            return self._full(s, t)

    # --- tickets ------------------------------------------------------------------------------
    def page_tickets(self, *, open_only: bool = False, status: str | None = None,
                     device_id: str | None = None, kind: str | None = None, limit: int = 200,
                     offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """One page of the tickets, newest first, and how many match in all."""
        where = [c for want, c in ((open_only, Ticket.is_open.is_(True)), (status, Ticket.status == status),
                                   (device_id, Ticket.device_id == device_id), (kind, Ticket.kind == kind))
                 if want]
        with self._sf() as s:
            count = s.scalar(select(func.count()).select_from(Ticket).where(*where)) or 0
            rows = s.scalars(select(Ticket).where(*where).order_by(Ticket.opened_at.desc(), Ticket.id.desc())
                             .limit(limit).offset(offset))
            return [ticket_dict(t) for t in rows], int(count)

    def list_tickets(self, *, open_only: bool = False, status: str | None = None, device_id: str | None = None,
                     kind: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        return self.page_tickets(open_only=open_only, status=status, device_id=device_id, kind=kind,
                                 limit=limit)[0]

    def get_ticket(self, number: str) -> dict[str, Any]:
        with self._sf() as s:
            return self._full(s, self._ticket(s, number))

    def move_ticket(self, number: str, to_status: str, *, actor: str, note: str = "") -> dict[str, Any]:
        return self._op(number, lambda s, t, now: move(s, t, to_status, actor=actor, now=now, note=note))

    def assign_ticket(self, number: str, *, actor: str, assignee: str | None = None,
                      team: str | None = None) -> dict[str, Any]:
        return self._op(number, lambda s, t, now: assign(s, t, actor=actor, now=now, assignee=assignee, team=team))

    def comment_ticket(self, number: str, text: str, *, actor: str) -> dict[str, Any]:
        return self._op(number, lambda s, t, now: add_comment(s, t, text, actor=actor, now=now))

    def update_8d(self, number: str, discipline: str, content: Any, *, actor: str) -> dict[str, Any]:
        return self._op(number, lambda s, t, now: set_8d(s, t, discipline, content, actor=actor, now=now))

    def record_feedback(self, number: str, verdict: str, *, actor: str, actual_failure_mode: str | None = None,
                        cause: str = "", action: str = "") -> dict[str, Any]:
        """Closure feedback from the field: ``confirmed`` or ``false_alarm``, actual mode, cause, action.

        The audit entry keeps the whole verdict, the one it replaced (``before``) and, for a unit's own
        warning, the unit's detector threshold factor once this verdict counts (``threshold_factor``)."""
        def fn(s: Session, t: Ticket, now: float) -> None:
            event = set_feedback(s, t, verdict, actor=actor, now=now, actual_failure_mode=actual_failure_mode,
                                 cause=cause, action=action)
            self._note_factor(s, t, event, now)
        return self._op(number, fn)

    def withdraw_feedback(self, number: str, *, actor: str, reason: str) -> dict[str, Any]:
        """Take back a verdict recorded by mistake (e.g. on the wrong ticket): the ticket has no feedback
        again, it no longer counts in the statistics or the unit's threshold factor, and the audit trail
        keeps what was withdrawn, by whom and why."""
        def fn(s: Session, t: Ticket, now: float) -> None:
            event = withdraw_feedback(s, t, actor=actor, now=now, reason=reason)
            self._note_factor(s, t, event, now)
        return self._op(number, fn)

    def _note_factor(self, s: Session, t: Ticket, event: TicketEvent, now: float) -> None:
        if t.kind == "unit" and t.device_id and (t.source or "proactive") == "proactive":
            s.flush()
            event.detail = {**(event.detail or {}), "threshold_factor": self._factor(s, t.device_id, now)}

    def threshold_factor(self, device_id: str) -> float:
        """How much to raise this unit's detector thresholds after field feedback (1.0 = unchanged).

        Each false alarm (no fault found) in the last ``feedback_window_d`` days adds ``feedback_step``;
        each warning of a real fault (the one it named or a different one) takes one step back; the factor
        stays within [1, ``feedback_max_factor``] and concerns this unit only. Only the verdicts on
        Foreshock's own warnings count: a ticket a customer's complaint opened was no warning, and its
        verdict says nothing about the detectors' sensitivity (as field precision).
        """
        with self._sf() as s:
            return self._factor(s, device_id, self.clock())

    def _factor(self, s: Session, device_id: str, now: float) -> float:
        cfg = self.config
        since = now - cfg.feedback_window_d * 86400
        rows = s.scalars(select(Ticket).where(
            Ticket.device_id == device_id, Ticket.kind == "unit", Ticket.source == "proactive",
            Ticket.feedback_verdict.is_not(None), Ticket.opened_at >= since))
        # a "false alarm" that names another fault of the machine found a fault: the warning was right to warn
        net = sum(1 if found_failure_mode(t) is None else -1 for t in rows)
        return min(cfg.feedback_max_factor, max(1.0, 1.0 + cfg.feedback_step * net))

    # --- alerts -------------------------------------------------------------------------------
    def page_alerts(self, *, open_only: bool = True, device_id: str | None = None, limit: int = 200,
                    offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """One page of the alerts, newest first, and how many match in all."""
        where = [c for want, c in ((open_only, Alert.is_open.is_(True)),
                                   (device_id, Alert.device_id == device_id)) if want]
        q = (select(Alert, Ticket.number).outerjoin(Ticket, Ticket.id == Alert.ticket_id).where(*where)
             .order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit).offset(offset))
        with self._sf() as s:
            count = s.scalar(select(func.count()).select_from(Alert).where(*where)) or 0
            return [alert_dict(a, n) for a, n in s.execute(q)], int(count)

    def list_alerts(self, *, open_only: bool = True, device_id: str | None = None,
                    limit: int = 200) -> list[dict[str, Any]]:
        return self.page_alerts(open_only=open_only, device_id=device_id, limit=limit)[0]

    def ack_alert(self, alert_id: int, *, actor: str) -> dict[str, Any]:
        """A person acknowledges an alert; this also answers its ticket's response clock."""
        if not actor:
            raise TicketError("acknowledging needs the person's name (actor)")
        now = self.clock()
        with self._sf.begin() as s:
            # the alert's write lock first (as _apply takes the ticket's): two people acknowledging at once are
            # applied one after the other, and the second finds the first's acknowledgement
            s.execute(update(Alert).where(Alert.id == alert_id).values(id=Alert.id)
                      .execution_options(synchronize_session=False))
            a = s.get(Alert, alert_id)
            if a is None:
                raise TicketError(f"no alert {alert_id}")
            first = a.acknowledged_at is None
            if first:
                a.acknowledged_at, a.acknowledged_by = now, actor
            number = None
            if a.ticket_id is not None:
                t = s.get(Ticket, a.ticket_id)
                number = t.number
                answered = t.responded_at is None
                if answered:
                    t.responded_at = now
                if first or answered:  # a second ack changes nothing: the audit trail names who acknowledged
                    record(s, t, "acknowledged", actor=actor, now=now, alert_id=a.id)
            return alert_dict(a, number)

    def in_maintenance(self, s: Session, device_id: str, site: str | None, ts: float) -> bool:
        """Whether a window of the unit, or of its site, covers ``ts``: no alert is raised then."""
        cond = MaintenanceWindow.device_id == device_id
        if site:
            cond = cond | ((MaintenanceWindow.site == site) & MaintenanceWindow.device_id.is_(None))
        return s.scalar(select(MaintenanceWindow.id).where(
            cond, MaintenanceWindow.starts_at <= ts, MaintenanceWindow.ends_at > ts).limit(1)) is not None

    def add_maintenance(self, *, starts_at: float, ends_at: float, device_id: str | None = None,
                        site: str | None = None, reason: str = "", actor: str = "") -> int:
        if not device_id and not site:
            raise ValueError("a maintenance window needs a unit (device_id) or a site")
        if not ends_at > starts_at:
            raise ValueError(f"maintenance window ends ({ends_at}) before it starts ({starts_at})")
        with self._sf.begin() as s:
            w = MaintenanceWindow(device_id=device_id, site=site, starts_at=starts_at, ends_at=ends_at,
                                  reason=reason, created_by=actor)
            s.add(w)
            s.flush()
            return w.id

    @staticmethod
    def _window(w: MaintenanceWindow) -> dict[str, Any]:
        return {"id": w.id, "device_id": w.device_id, "site": w.site, "starts_at": w.starts_at, "ends_at": w.ends_at,
                "reason": w.reason, "created_by": w.created_by}

    def list_maintenance(self, *, device_id: str | None = None, site: str | None = None,
                         ends_after: float | None = None, limit: int = 50,
                         offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Maintenance windows, latest start first, and how many match: of a unit (its own and its site's
        when ``site`` is given too), of a site, and/or not ended at ``ends_after``."""
        from sqlalchemy import func

        conds = []
        if device_id and site:
            conds.append(or_(MaintenanceWindow.device_id == device_id,
                             and_(MaintenanceWindow.site == site, MaintenanceWindow.device_id.is_(None))))
        elif device_id:
            conds.append(MaintenanceWindow.device_id == device_id)
        elif site:
            conds.append(MaintenanceWindow.site == site)
        if ends_after is not None:
            conds.append(MaintenanceWindow.ends_at > ends_after)
        with self._sf() as s:
            total = s.scalar(select(func.count()).select_from(MaintenanceWindow).where(*conds)) or 0
            rows = s.scalars(select(MaintenanceWindow).where(*conds).order_by(
                MaintenanceWindow.starts_at.desc(), MaintenanceWindow.id.desc()).limit(limit).offset(offset)).all()
            return [self._window(w) for w in rows], total

    def delete_maintenance(self, window_id: int, *, actor: str = "") -> dict[str, Any]:
        """Remove a maintenance window (e.g. one entered with a wrong end): alerts are raised again from then on."""
        with self._sf.begin() as s:
            w = s.get(MaintenanceWindow, window_id)
            if w is None:
                raise LookupError(f"no maintenance window {window_id}")
            out = self._window(w)
            # a conditional delete: of two people deleting the window at once, the second finds it gone (both
            # were told they had deleted it)
            gone = s.execute(delete(MaintenanceWindow).where(MaintenanceWindow.id == window_id)
                             .execution_options(synchronize_session=False))
            if not gone.rowcount:
                raise LookupError(f"no maintenance window {window_id}")
        log.info("maintenance window %d (%s) deleted by %s", window_id, out["device_id"] or f"site {out['site']}",
                 actor or "?")
        return out

    # --- clocks -------------------------------------------------------------------------------
    def tick(self, now: float | None = None, heard_until: float | None = None) -> list[Change]:
        """Check SLA clocks and silent units; call periodically (e.g. every minute).

        ``heard_until``: up to when ingest has handed on what it received (``IngestService.heard_until``;
        None: everything). Units are judged silent at that time, not later: messages still waiting in
        ingest's queue are no silence."""
        now = self.clock() if now is None else float(now)
        judge_at = now if heard_until is None else min(now, float(heard_until))
        changes = self._check_sla(now) + self._check_silent(judge_at)
        if changes and self.notifier is not None:
            self.notifier.wake()
        return changes

    def _check_sla(self, now: float) -> list[Change]:
        changes: list[Change] = []
        late_response = and_(Ticket.responded_at.is_(None), Ticket.response_due < now,
                             Ticket.response_breached.is_(False))
        late_resolution = and_(Ticket.resolution_due < now, Ticket.resolution_breached.is_(False))
        with self._sf.begin() as s:
            due_now = s.scalars(select(Ticket).where(Ticket.is_open.is_(True), or_(late_response, late_resolution)))
            for t in list(due_now):
                for clock, due, done, flag in (("response", t.response_due, t.responded_at, "response_breached"),
                                               ("resolution", t.resolution_due, None, "resolution_breached")):
                    if done is None and now > due and not getattr(t, flag):
                        # conditional update: of two workers ticking at once, exactly one escalates
                        res: Any = s.execute(
                            update(Ticket).where(Ticket.id == t.id, getattr(Ticket, flag).is_(False))
                            .values({flag: True, "escalation_level": Ticket.escalation_level + 1})
                            .execution_options(synchronize_session=False))
                        if not res.rowcount:
                            continue
                        s.refresh(t)
                        record(s, t, "escalated", actor="foreshock", now=now, reason=f"{clock}_sla_breached",
                               due=iso(due))
                        self._notify_ticket(s, t, "ticket.sla_breached", clock=clock, due=due,
                                            escalation_level=t.escalation_level)
                        log.warning("ticket %s breached its %s clock (due %s)", t.number, clock, iso(due))
                        changes.append(Change("sla_breached", t.device_id, t.failure_mode, grade=t.grade,
                                              ticket=t.number, detail={"clock": clock,
                                                                       "escalation_level": t.escalation_level}))
        return changes

    def _check_silent(self, now: float) -> list[Change]:
        if self.registry is None or not hasattr(self.registry, "silent_units"):
            return []
        try:
            items = self.registry.silent_units(int(now * 1000))
        except Exception:
            log.warning("registry.silent_units failed", exc_info=True)
            return []
        silent = set()
        for it in items or ():
            dev = it if isinstance(it, str) else (it.get("device_id") if isinstance(it, dict)
                                                  else getattr(it, "device_id", None))
            if dev:
                silent.add(str(dev))
        changes: list[Change] = []
        with self._lock:
            open_silent = {dev for dev, modes in self._open.by_device.items() if "silent" in modes}
            for dev in sorted(silent - open_silent):
                changes += self._silent_alert(dev, now)
            for dev in sorted(open_silent - silent):
                changes += self._clear_silent(dev, now)
        return changes

    def _silent_alert(self, dev: str, now: float) -> list[Change]:
        from alerts.service import _Open

        unit = unit_attrs(self.registry, dev)
        try:
            with self._sf.begin() as s:
                if self.in_maintenance(s, dev, unit.get("site"), now):
                    # a unit switched off for maintenance (its own window, or its site's) is silent as planned; if
                    # it still is when the window ends, the next tick raises the alert
                    log.debug("unit silent alert for %s held back: maintenance window", dev)
                    return []
                a = Alert(device_id=dev, failure_mode="silent", severity="silent", grade="minor", status="open",
                          is_open=True, flapping=False, raised_at=now, last_ts=now, detail={"reason": "no data"})
                s.add(a)
                s.flush()
                if self.notifier is not None:
                    self.notifier.enqueue(s, "unit.silent", {"device_id": dev, "alert_id": a.id, "since": now},
                                          customer=unit["customer"], site=unit["site"], model=unit["model"],
                                          grade="minor")
                alert_id = a.id
        except IntegrityError:
            log.info("silent alert for %s already raised by another worker", dev)
            return []
        self._open[(dev, "silent")] = _Open(alert_id, 1, None)
        return [Change("unit_silent", dev, "silent", severity="silent", grade="minor", alert_id=alert_id)]

    def _clear_silent(self, dev: str, now: float) -> list[Change]:
        entry = self._open.pop((dev, "silent"))
        with self._sf.begin() as s:
            a = s.get(Alert, entry.alert_id)
            if a is None or not a.is_open:
                return []
            a.status, a.is_open, a.cleared_at, a.last_ts = "cleared", False, now, now
            if self.notifier is not None:  # those told it went silent hear that it is back
                unit = unit_attrs(self.registry, dev)
                self.notifier.enqueue(s, "alert.cleared", {"device_id": dev, "failure_mode": "silent",
                                                           "alert_id": a.id, "severity": "silent"},
                                      customer=unit["customer"], site=unit["site"], model=unit["model"],
                                      grade="minor")
        return [Change("alert_cleared", dev, "silent", severity="silent", grade="minor", alert_id=entry.alert_id)]
