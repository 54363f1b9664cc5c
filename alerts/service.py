"""The alert service: health assessments in, alerts, tickets and notifications out.

The ingest pipeline calls :meth:`AlertService.handle_assessment` for every assessment, so the
common case costs no database round trip: an in-memory map of the open alerts (rebuilt from
the database at start) answers "nothing changed" for a repeated state. Only a change (raise,
escalate, first ticket, clear) opens a transaction, and that transaction also records the
message's ``source_key``: a redelivered or replayed message changes nothing twice, and when two
workers race, the partial unique indexes let one win and the other re-reads and joins.

Alert rules (``docs/quality-loop.md``):

- ``unknown`` never raises or clears; ``watch``/``warning``/``alarm`` raise an alert per
  (unit, failure mode), a worse state escalates it, and so does the same state graded worse (less
  than ``critical_ttf_h`` left); it never de-escalates while open;
- ``clear_after`` consecutive ``healthy`` assessments clear it (hysteresis);
- a raise inside a maintenance window (unit or site) is suppressed;
- ``flap_raises`` raises within ``flap_window_h`` mark the alert as flapping: it still exists,
  but its raise and clear send no notification;
- ``warning``/``alarm`` open a ticket or join the open one for that unit and failure mode.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from alerts.config import GRADE_ORDER, SEVERITY_ORDER, AlertConfig
from alerts.desk import TicketDesk
from alerts.escalation import check_repeat, check_surge
from alerts.models import Alert, ProcessedMessage, Ticket
from alerts.tickets import find_open, link, open_ticket, prefill_d2, record, regrade
from alerts.types import Change
from alerts.units import unit_attrs

__all__ = ["AlertService", "Change"]

log = logging.getLogger(__name__)
_STATES = ("healthy", "watch", "warning", "alarm", "unknown")


@dataclass
class _Open:
    alert_id: int
    severity: int
    ticket_id: int | None
    healthy: int = 0
    grade: str = "minor"


class _OpenAlerts(dict):
    """Open alerts keyed by (device, failure mode), with a per-device index for the healthy path."""

    def __init__(self) -> None:
        super().__init__()
        self.by_device: dict[str, set[str]] = {}

    def __setitem__(self, key: tuple[str, str], value: _Open) -> None:
        super().__setitem__(key, value)
        self.by_device.setdefault(key[0], set()).add(key[1])

    def __delitem__(self, key: tuple[str, str]) -> None:
        super().__delitem__(key)
        modes = self.by_device.get(key[0])
        if modes is not None:
            modes.discard(key[1])
            if not modes:
                del self.by_device[key[0]]

    def pop(self, key: tuple[str, str], *default: Any) -> Any:  # type: ignore[override]
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def modes(self, device_id: str) -> list[str]:
        return sorted(self.by_device.get(device_id, ()))


class AlertService(TicketDesk):
    """See the module docstring. ``clock()`` returns epoch seconds (ticket clocks, deliveries)."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, registry: Any = None, notifier: Any = None,
        config: AlertConfig | None = None, clock: Callable[[], float] | None = None,
    ) -> None:
        self._sf = self.session_factory = session_factory
        self.registry = registry
        self.notifier = notifier
        self.config = config or AlertConfig()
        self.clock = clock or time.time
        self._lock = threading.RLock()
        self._open = _OpenAlerts()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.reload()

    def close(self) -> None:
        """Stop the notifier's worker (pending deliveries stay in the log for the next start)."""
        if self.notifier is not None and hasattr(self.notifier, "close"):
            self.notifier.close()

    # --- cache -----------------------------------------------------------------------------
    def reload(self) -> None:
        """Rebuild the in-memory map of open alerts from the database."""
        with self._lock, self._sf() as s:
            rows = s.scalars(select(Alert).where(Alert.is_open.is_(True))).all()
            self._open = _OpenAlerts()
            for a in rows:
                self._open[(a.device_id, a.failure_mode)] = _Open(
                    a.id, SEVERITY_ORDER.get(a.severity, 1), a.ticket_id, grade=a.grade)
        log.debug("alert cache: %d open alerts", len(self._open))

    def _remember(self, source_key: str) -> None:
        self._seen[source_key] = None
        while len(self._seen) > 10_000:
            self._seen.popitem(last=False)

    # --- the hot path ------------------------------------------------------------------------
    def handle_assessment(self, device_id: str, assessment: Any, *, source_key: str) -> list[Change]:
        """Apply one assessment; returns what changed (usually nothing)."""
        if not isinstance(device_id, str) or not device_id:
            raise ValueError(f"device_id must be a non-empty string, got {device_id!r}")
        if not source_key:
            raise ValueError("source_key must identify the message (e.g. 'device:seq:ts')")
        state = getattr(assessment, "state", None)
        if state not in _STATES:
            raise ValueError(f"assessment state must be one of {', '.join(_STATES)}, got {state!r}")
        if state == "unknown":
            return []
        with self._lock:
            if source_key in self._seen:
                return []
            if state == "healthy":
                fms = [fm for fm in self._open.modes(device_id) if fm != "silent"]
                if fms:
                    self._remember(source_key)  # a redelivered healthy message does not count twice
                due = []
                for fm in fms:
                    entry = self._open[(device_id, fm)]
                    entry.healthy += 1
                    if entry.healthy >= self.config.clear_after:
                        due.append(fm)
                return self._write(device_id, assessment, source_key, clear=due) if due else []
            fm = assessment.failure_mode or "anomaly"
            entry = self._open.get((device_id, fm))
            if entry is not None:
                entry.healthy = 0
            wants_ticket = self.config.opens_ticket(state) and (entry is None or entry.ticket_id is None)
            # the same state graded worse (its time to failure fell under critical_ttf_h) is news as well
            worse_grade = entry is not None and SEVERITY_ORDER[state] == entry.severity and GRADE_ORDER[
                self.config.grade_for(state, getattr(assessment, "ttf_s", None))] > GRADE_ORDER[entry.grade]
            if (entry is not None and SEVERITY_ORDER[state] <= entry.severity and not wants_ticket
                    and not worse_grade):
                return []
            return self._write(device_id, assessment, source_key, failure_mode=fm)

    def _write(self, device_id: str, a: Any, source_key: str, *, clear: list[str] | None = None,
               failure_mode: str | None = None) -> list[Change]:
        for attempt in range(3):
            changes: list[Change] = []
            try:
                with self._sf.begin() as s:
                    if s.get(ProcessedMessage, source_key) is not None:
                        self._remember(source_key)
                        return []
                    s.add(ProcessedMessage(source_key=source_key, at=self.clock()))
                    s.flush()
                    entry: _Open | None = None
                    if clear:
                        changes = self._clear(s, device_id, clear, float(a.ts))
                    else:
                        changes, entry = self._raise(s, device_id, a, failure_mode or "anomaly")
            except IntegrityError:
                log.info("concurrent change for %s (%s), retrying (%d)", device_id, source_key, attempt + 1)
                self._reload_device(device_id)
                continue
            self._remember(source_key)
            for c in changes:
                if c.kind == "alert_cleared":
                    self._open.pop((device_id, c.failure_mode or ""), None)
            if entry is not None:
                self._open[(device_id, failure_mode or "anomaly")] = entry
            if changes and self.notifier is not None:
                self.notifier.wake()
            return changes
        raise RuntimeError(f"could not apply assessment {source_key} for {device_id} after 3 attempts")

    def _reload_device(self, device_id: str) -> None:
        with self._sf() as s:
            rows = s.scalars(select(Alert).where(Alert.is_open.is_(True), Alert.device_id == device_id)).all()
        for fm in self._open.modes(device_id):
            del self._open[(device_id, fm)]
        for r in rows:
            self._open[(r.device_id, r.failure_mode)] = _Open(
                r.id, SEVERITY_ORDER.get(r.severity, 1), r.ticket_id, grade=r.grade)

    # --- changes -----------------------------------------------------------------------------
    def _notify(self, s: Session, event: str, payload: dict[str, Any], unit: dict[str, Any], grade: str) -> None:
        if self.notifier is not None:
            self.notifier.enqueue(s, event, {**payload, "grade": grade}, customer=unit.get("customer"),
                                  site=unit.get("site"), model=unit.get("model"), grade=grade)

    def _clear(self, s: Session, device_id: str, fms: list[str], ts: float) -> list[Change]:
        changes = []
        unit = unit_attrs(self.registry, device_id)
        for fm in fms:
            alert = s.scalars(select(Alert).where(Alert.is_open.is_(True), Alert.device_id == device_id,
                                                  Alert.failure_mode == fm)).first()
            if alert is None:
                continue
            alert.status, alert.is_open, alert.cleared_at, alert.last_ts = "cleared", False, ts, ts
            changes.append(Change("alert_cleared", device_id, fm, severity=alert.severity, grade=alert.grade,
                                  alert_id=alert.id))
            if not alert.flapping:
                self._notify(s, "alert.cleared", {"device_id": device_id, "failure_mode": fm, "alert_id": alert.id,
                                                  "severity": alert.severity}, unit, alert.grade)
        return changes

    def _raise(self, s: Session, device_id: str, a: Any, fm: str) -> tuple[list[Change], _Open | None]:
        ts, state, cfg = float(a.ts), a.state, self.config
        unit = unit_attrs(self.registry, device_id)
        if self.in_maintenance(s, device_id, unit.get("site"), ts):
            log.info("%s %s %s suppressed: maintenance window", device_id, fm, state)
            return [Change("alert_suppressed", device_id, fm, severity=state, detail={"reason": "maintenance"})], None
        grade = cfg.grade_for(state, a.ttf_s)
        payload = {"device_id": device_id, "failure_mode": fm, "severity": state, "ts": ts,
                   "confidence": a.confidence, "ttf_s": a.ttf_s, "reasons": list(a.reasons or [])[:5]}
        alert = s.scalars(select(Alert).where(Alert.is_open.is_(True), Alert.device_id == device_id,
                                              Alert.failure_mode == fm)).first()
        changes: list[Change] = []
        if alert is None:
            recent = s.scalar(select(func.count(Alert.id)).where(
                Alert.device_id == device_id, Alert.failure_mode == fm,
                Alert.raised_at > ts - cfg.flap_window_h * 3600)) or 0
            alert = Alert(device_id=device_id, failure_mode=fm, severity=state, grade=grade, status="open",
                          is_open=True, flapping=recent + 1 >= cfg.flap_raises, raised_at=ts, last_ts=ts,
                          detail={"reasons": payload["reasons"]})
            s.add(alert)
            s.flush()
            changes.append(Change("alert_raised", device_id, fm, severity=state, grade=grade, alert_id=alert.id,
                                  detail={"flapping": alert.flapping}))
            if not alert.flapping:
                self._notify(s, "alert.raised", {**payload, "alert_id": alert.id}, unit, grade)
        elif (worse := SEVERITY_ORDER[state] > SEVERITY_ORDER.get(alert.severity, 0)) or (
                SEVERITY_ORDER[state] == SEVERITY_ORDER.get(alert.severity, 0)
                and GRADE_ORDER[grade] > GRADE_ORDER[alert.grade]):
            # a worse state, or the same state graded worse (its time to failure fell under critical_ttf_h)
            if worse:
                alert.severity = state
            alert.escalated_at, alert.last_ts = ts, ts
            if GRADE_ORDER[grade] > GRADE_ORDER[alert.grade]:
                alert.grade = grade
            changes.append(Change("alert_escalated", device_id, fm, severity=state, grade=alert.grade,
                                  alert_id=alert.id))
            self._notify(s, "alert.escalated", {**payload, "alert_id": alert.id}, unit, alert.grade)
        if cfg.opens_ticket(state):
            changes.extend(self._ticket_for(s, alert, a, unit, grade))
        return changes, _Open(alert.id, SEVERITY_ORDER.get(alert.severity, 1), alert.ticket_id,
                              grade=alert.grade)

    def _ticket_for(self, s: Session, alert: Alert, a: Any, unit: dict[str, Any], grade: str) -> list[Change]:
        now, device_id, fm = self.clock(), alert.device_id, alert.failure_mode
        # the ticket's row lock (PostgreSQL; SQLite's write lock is held already): a ticket closed meanwhile is seen
        # closed, and gets a new ticket beside it, instead of being regraded after its close
        ticket = (s.get(Ticket, alert.ticket_id, with_for_update=True, populate_existing=True)
                  if alert.ticket_id else None)
        previous = None
        if ticket is not None and not ticket.is_open:
            # closed while its alert stayed open: a worse state is news for an open ticket, not a closed one's grade
            previous, ticket = ticket, None
        if ticket is None:
            ticket = find_open(s, device_id, fm)
            if ticket is not None:  # its row lock too: one closed since the look-up is not joined
                s.refresh(ticket, with_for_update=True)
                if not ticket.is_open:
                    ticket = None
        changes: list[Change] = []
        if ticket is None:
            title = f"{fm} on {device_id}" + (f" ({unit['model']})" if unit.get("model") else "")
            ticket = open_ticket(s, self.config, now=now, device_id=device_id, failure_mode=fm, grade=grade,
                                 unit=unit, d2=prefill_d2(device_id, unit, a, alert.raised_at), title=title)
            changes.append(Change("ticket_opened", device_id, fm, grade=grade, alert_id=alert.id,
                                  ticket=ticket.number))
            if previous is not None:
                link(s, ticket, previous, "previous")
                record(s, ticket, "linked", actor="foreshock", now=now, previous_ticket=previous.number,
                       reason="the alert of a closed ticket escalated")
            self._notify(s, "ticket.opened", {"device_id": device_id, "failure_mode": fm, "ticket": ticket.number,
                                              "response_due": ticket.response_due}, unit, grade)
            for extra in check_repeat(s, self.config, ticket, now) + check_surge(s, self.config, ticket, now):
                changes.append(extra)
                event = "ticket.repeat_failure" if extra.kind == "repeat_failure" else "fleet." + extra.kind
                self._notify(s, event, {"device_id": extra.device_id, "failure_mode": fm, "ticket": extra.ticket,
                                        **extra.detail}, unit, extra.grade or "major")
        elif alert.ticket_id != ticket.id:
            record(s, ticket, "joined", actor="foreshock", now=now, alert_id=alert.id)
            changes.append(Change("ticket_joined", device_id, fm, grade=ticket.grade, alert_id=alert.id,
                                  ticket=ticket.number))
        if GRADE_ORDER[grade] > GRADE_ORDER[ticket.grade]:
            before = regrade(s, ticket, self.config, grade, actor="foreshock", now=now)
            changes.append(Change("ticket_regraded", device_id, fm, grade=grade, ticket=ticket.number,
                                  detail={"before": before}))
        alert.ticket_id = ticket.id
        return changes
