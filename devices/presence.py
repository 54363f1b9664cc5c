"""Presence: online / offline from the status topic (and its last will), last seen, silent units.

A unit is *online* or *offline* as its latest ``status`` message says (the broker publishes the
unit's last will, ``offline``, when the connection drops); a status older than the one already
recorded is ignored. Every message a unit sends counts as *seen* (:meth:`mark_seen`), except an
``offline`` status, which the broker may send on the unit's behalf.

A unit is *silent* when nothing was seen from it for longer than its model's
``reporting_interval_s`` times the registry's ``silent_after_intervals``: the deadman. The alerts
service polls :meth:`silent_units` and raises "unit silent", clearing it when the unit is no longer
in the list. Units never seen and decommissioned units are never silent.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from devices.errors import InvalidInput
from devices.models import MachineModel, Unit
from devices.protocol import now_ms as _now_ms

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["Presence", "SilentUnit", "PresenceMixin"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Presence:
    device_id: str
    state: str  # unknown | online | offline
    since_ms: int | None  # time of the status that set ``state``
    last_seen_ms: int | None
    silent: bool


@dataclass(frozen=True)
class SilentUnit:
    device_id: str
    last_seen_ms: int
    silent_for_s: float
    limit_s: float  # reporting interval x silent_after_intervals
    presence: str
    model: str | None
    customer: str | None
    site: str | None


class PresenceMixin:
    """Presence methods of :class:`devices.registry.Registry` (which provides the attributes below)."""

    session_factory: sessionmaker[Session]
    silent_after_intervals: float
    default_reporting_interval_s: float | None
    seen_write_interval_ms: int
    defer_seen_writes: bool
    _lock: threading.Lock
    _seen: dict[str, int]
    _seen_written: dict[str, int]

    def _session(self, write: bool = False) -> AbstractContextManager[Session]:  # pragma: no cover - abstract
        raise NotImplementedError

    def record_status(self, device_id: str, state: str, ts_ms: int | None, firmware: str | None = None, *,
                      retained: bool = True) -> bool:
        """Record a ``status`` message; returns whether the presence state changed.

        ``ts_ms`` None (a last will carries no time) means now, and a time ahead of the platform's clock
        counts as now (a unit's fast clock). A status older than the recorded one is ignored, unless the
        recorded one was a last will: that was stamped with the platform's clock, which a unit's clock may
        trail, and a unit's status after its will is always newer.
        An undated status repeating the recorded undated one (the broker's retained will, delivered
        again whenever the platform subscribes) leaves the presence as it is, but a new firmware it
        reports is recorded. ``retained=False`` says the unit sent it now (the broker delivered it live,
        not its stored copy): a repeated undated ``online`` then counts as the unit seen (a heartbeat).
        Unknown units are ignored.
        """
        if state not in ("online", "offline"):
            raise InvalidInput("state", f"expected 'online' or 'offline', got {state!r}")
        ts = _now_ms() if ts_ms is None else int(ts_ms)
        with self.session_factory() as session:
            unit = session.get(Unit, device_id)
            if unit is None:
                log.debug("status from unknown unit %s ignored", device_id)
                return False
            repeated = ts_ms is None and unit.presence_by_will and unit.presence == state
            if repeated:
                # The same undated status again: the broker hands its retained copy (a unit's last will)
                # to every new subscription, so each restart of the platform moved "offline since" to it.
                # Its presence is not news, but a firmware it reports is (an update without a reconnect).
                log.debug("repeated undated %s status of %s: presence unchanged", state, device_id)
                if self._record_firmware(unit, firmware):
                    session.commit()
            else:
                applied = self._apply_status(session, unit, state, ts, ts_ms, firmware)
                if applied is None:
                    return False
                seen, changed = applied
        if repeated:
            if state == "online" and not retained:  # sent now, not the broker's copy: the unit is there
                self.mark_seen(device_id, _now_ms())  # (as any message: the database written at most every interval)
            return False
        if state == "online":
            self._remember_seen(device_id, seen, written=True)
        if changed:
            log.info("unit %s is %s", device_id, state)
        return changed

    @staticmethod
    def _apply_status(session: Session, unit: Unit, state: str, ts: int, ts_ms: int | None,
                      firmware: str | None) -> tuple[int, bool] | None:
        """Set a status that is not a repeated undated one on ``unit`` and commit; ``(seen, changed)``, or
        None for a stale status (ignored)."""
        # No later than the platform heard it: a unit whose clock ran fast (within the protocol's
        # tolerance) said "offline" at a time still to come; once NTP set its clock at the reboot, its
        # next "online" was older than that, ignored, and the unit showed offline while its data arrived.
        ts = min(ts, _now_ms())
        stale = unit.presence_ts_ms is not None and ts < unit.presence_ts_ms
        if stale and ts_ms is not None and not unit.presence_by_will:
            log.debug("stale status of %s ignored (%d < %d)", unit.device_id, ts, unit.presence_ts_ms)
            return None
        changed = unit.presence != state
        unit.presence, unit.presence_ts_ms, unit.presence_by_will = state, ts, ts_ms is None
        PresenceMixin._record_firmware(unit, firmware)
        # seen when the platform heard it (ts, capped above): a unit's clock up to ingest.future_tolerance_s
        # fast put its last-seen time in the future, and the deadman found it silent that much later
        if state == "online" and (unit.last_seen_ms is None or ts > unit.last_seen_ms):
            unit.last_seen_ms = ts
        session.commit()
        return ts, changed

    @staticmethod
    def _record_firmware(unit: Unit, firmware: str | None) -> bool:
        """Set the firmware a status reports on ``unit``; returns whether it changed."""
        if firmware is None or unit.firmware == firmware:
            return False
        log.info("unit %s reports firmware %s (was %s)", unit.device_id, firmware, unit.firmware)
        unit.firmware = firmware
        return True

    def _remember_seen(self, device_id: str, ts_ms: int, *, written: bool) -> bool:
        """Update the in-memory last-seen time; returns whether the database should be written."""
        with self._lock:
            if ts_ms <= self._seen.get(device_id, -1):
                return False
            self._seen[device_id] = ts_ms
            if self.defer_seen_writes and not written:
                return False  # flush_seen() writes it
            last_written = self._seen_written.get(device_id)
            if written or last_written is None or ts_ms - last_written >= self.seen_write_interval_ms:
                self._seen_written[device_id] = ts_ms
                return not written
            return False

    def mark_seen(self, device_id: str, ts_ms: int) -> None:
        """A message from ``device_id`` at ``ts_ms``: cheap; writes the database at most every
        ``seen_write_interval_s`` per unit (and on the first message), or never with
        ``defer_seen_writes`` (the caller runs :meth:`flush_seen` on a timer)."""
        if self._remember_seen(device_id, int(ts_ms), written=False):
            self._write_seen({device_id: int(ts_ms)})

    def flush_seen(self) -> int:
        """Write every last-seen time not yet in the database (e.g. at shutdown); returns how many."""
        with self._lock:
            pending = {d: ts for d, ts in self._seen.items() if ts > self._seen_written.get(d, -1)}
            self._seen_written.update(pending)
        if pending:
            self._write_seen(pending)
        return len(pending)

    def _write_seen(self, seen: dict[str, int]) -> None:
        with self.session_factory() as session:
            for device_id, ts in seen.items():
                session.execute(
                    update(Unit)
                    .where(Unit.device_id == device_id, or_(Unit.last_seen_ms.is_(None), Unit.last_seen_ms < ts))
                    .values(last_seen_ms=ts)
                    .execution_options(synchronize_session=False)
                )
            session.commit()

    def _limit_ms(self, interval_s: float | None) -> float | None:
        interval = interval_s if interval_s is not None else self.default_reporting_interval_s
        return None if interval is None else interval * self.silent_after_intervals * 1000.0

    def silent_units(self, now_ms: int) -> list[SilentUnit]:
        """Units in service, seen at least once, silent for longer than their limit at ``now_ms``."""
        interval = func.coalesce(MachineModel.reporting_interval_s, self.default_reporting_interval_s)
        stmt = (
            select(Unit.device_id, Unit.last_seen_ms, MachineModel.reporting_interval_s, Unit.presence,
                   MachineModel.name, Unit.customer, Unit.site)
            .outerjoin(MachineModel, Unit.model_id == MachineModel.id)
            .where(Unit.decommissioned_at.is_(None), Unit.last_seen_ms.is_not(None))
            .order_by(Unit.device_id)
        )
        if self.default_reporting_interval_s is None:
            stmt = stmt.where(MachineModel.id.is_not(None))
        # Coarse SQL pre-filter; the exact test below also uses the in-memory last-seen times.
        stmt = stmt.where(and_(Unit.last_seen_ms + interval * (self.silent_after_intervals * 1000.0) < now_ms))
        with self.session_factory() as session:
            rows = session.execute(stmt).all()
        with self._lock:
            seen = {row[0]: self._seen.get(row[0]) for row in rows}
        out = []
        for device_id, last_seen, interval_s, presence, model, customer, site in rows:
            limit_ms = self._limit_ms(interval_s)
            last = max(int(last_seen or 0), seen[device_id] or 0)
            if limit_ms is not None and now_ms - last > limit_ms:
                out.append(SilentUnit(device_id, last, (now_ms - last) / 1000.0, limit_ms / 1000.0,
                                      presence, model, customer, site))
        return out

    def presence(self, device_id: str, now_ms: int | None = None) -> Presence | None:
        """The unit's presence (``silent`` judged at ``now_ms``, default now); None if unknown."""
        now = _now_ms() if now_ms is None else now_ms
        with self.session_factory() as session:
            unit = session.get(Unit, device_id)
            if unit is None:
                return None
            interval = unit.model.reporting_interval_s if unit.model is not None else None
            state, since, last_seen = unit.presence, unit.presence_ts_ms, unit.last_seen_ms
            active = unit.decommissioned_at is None
        with self._lock:
            mem = self._seen.get(device_id)
        if mem is not None and (last_seen is None or mem > last_seen):
            last_seen = mem
        limit_ms = self._limit_ms(interval)
        silent = active and last_seen is not None and limit_ms is not None and now - last_seen > limit_ms
        return Presence(device_id, state, since, last_seen, bool(silent))
