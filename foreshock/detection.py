"""The detection stage: ingested messages in, assessments, alerts and health publications out.

Ingest calls :meth:`DetectionStage.on_batch` after a batch is durably written. For each unit the
stage keeps a :class:`detectors.UnitMonitor` (created from the unit's model data in the registry,
or restored from the ``detector_state`` table), feeds it the unit's snapshots and scalar records
in time order, and hands every assessment to the alert service.

Idempotence: each monitor's state remembers the newest message time it has learnt from; a
redelivered or out-of-order older message is stored by ingest but not fed to the detectors again,
so a redelivery never counts twice. State is written back at most every ``flush_interval_s`` (from
:meth:`on_batch`, or only by :meth:`flush` with ``flush_on_batch=False``: the pipeline's tick thread
does it, off the ingest path) and on :meth:`close`, keyed by unit, so units can later be
partitioned across workers. Only units that learnt something since the last flush are serialised
and written (a redelivered old message changes nothing). Serialising takes the detection lock for
50 units at a time (a batch waits at most for those, not for all units); the database write
happens outside it.

Most flushes see only scalar telemetry of a unit (every 10 s) and no snapshot (every few minutes),
while the larger part of a monitor's state, its waveform baselines (``_SNAPSHOT_KEYS``), changes only
with a snapshot: their JSON is kept from the unit's last serialisation and reused until the unit
learns from a snapshot, its configuration is applied again, or ``_FULL_EVERY`` flushes have reused
it; :meth:`close` serialises everything afresh. (``UnitMonitor.update_scalars`` leaves these parts
alone; ``tests/foreshock/test_soak_fixes.py`` checks the spliced JSON against a full one.)

Database outages: an assessment the alert service cannot apply because the database is
unreachable (SQLAlchemy ``OperationalError`` / ``InterfaceError`` / pool timeout) is queued, in
order, behind any already waiting, and retried every ``alert_retry_s`` (on the next batch or
:meth:`flush`). The queue is bounded (``max_pending_alerts``; past it the oldest is dropped,
counted in ``stats.alerts_dropped`` and logged) and appended to ``pending_path`` (JSON lines) so
that a restart, even after SIGKILL, applies it; the file is removed once the queue is empty. The
alert service is idempotent per ``source_key``, so an entry applied twice does not count twice.
:attr:`alert_backlog` is what ``/readyz`` reports.

Relearn requests (``foreshock devices relearn``, ``POST /units/{id}/relearn``, made in other processes):
the registry's unit row holds the latest request; when a unit's configuration is applied, a request newer
than the one its saved state last applied starts a fresh commissioning of it
(:meth:`detectors.UnitMonitor.relearn`) and is saved with the state as ``"relearn"``, so a restart or
another worker loading the state does not apply it again. Every ``relearn_poll_s`` one query finds the
requests made since the last poll, and those units apply theirs with their next message.

Messages lost before Foreshock: every record's and snapshot's ``seq`` goes to the unit's
:class:`foreshock.seqgaps.SeqTracker` (before the detectors' own checks, for every axis); gaps are
counted in ``stats.seq_missing`` and per unit (:meth:`seq_missing`, saved with the state as ``"seq"``),
and a WARNING names the unit at most once an hour.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from detectors import Assessment, MachineInfo, Snapshot, UnitMonitor
from detectors.config import MonitorConfig
from detectors.types import HEALTH_ORDER
from foreshock.db import log_failure
from foreshock.models import DetectorState
from foreshock.seqgaps import SeqTracker, missing_in_saved_state
from foreshock.tsdb import Point, StoreError, TelemetryStore

__all__ = ["DetectionStage", "DetectionStats"]

log = logging.getLogger(__name__)

_COLLECT_CHUNK = 50  # units serialised per hold of the detection lock in flush()
# parts of UnitMonitor.state_dict() that only a snapshot changes; their JSON is reused between snapshots
_SNAPSHOT_KEYS = ("baseline", "mv", "iso", "ph", "trends")
_FULL_EVERY = 10  # a unit's snapshot parts are serialised afresh at least every this many flushes
_FAR_BEHIND_S = 300.0  # a skipped message this much older than the unit's newest is logged (its clock went back)

HealthPublisher = Callable[[str, bytes], None]
AssessmentSink = Callable[[str, Assessment], None]


@dataclass
class DetectionStats:
    snapshots: int = 0
    records: int = 0
    skipped_old: int = 0
    other_axes: int = 0  # snapshots of an axis the unit's detectors do not follow (stored, not assessed)
    assessments: int = 0
    health_changes: int = 0
    errors: int = 0
    seconds: float = 0.0  # time spent in the detectors
    alerts_queued: int = 0  # assessments queued because the database was unavailable
    alerts_retried: int = 0  # queued assessments applied later
    alerts_dropped: int = 0  # dropped from a full queue (logged)
    states_saved: int = 0  # unit states serialised for the database
    states_reused: int = 0  # ... of which the snapshot parts' JSON was reused (no snapshot since)
    seq_missing: int = 0  # messages counted lost before Foreshock received them (gaps in the units' seq)
    same_ts_records: int = 0  # telemetry records with the ts of the one before, another seq: stored, not assessed
    relearns: int = 0  # relearn requests applied (a fresh commissioning of the unit)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Unit:
    monitor: UnitMonitor
    last_ts: dict[str, float] = field(default_factory=dict)  # per message kind
    health: str = "unknown"
    dirty: bool = False  # learnt something since its state was last serialised
    snapshot_json: str | None = None  # the _SNAPSHOT_KEYS of its last serialisation, as JSON members
    snapshot_changed: bool = True  # snapshot_json is out of date
    reused: int = 0  # serialisations since snapshot_json was made
    latest: dict[str, Any] = field(default_factory=dict)
    config_checked: float = 0.0  # monotonic time the unit's configuration was last applied
    far_behind: int = 0  # messages far older than last_ts skipped since the last warning about them
    next_behind_log: float = 0.0  # monotonic time before which no new warning about them is logged
    seq: SeqTracker = field(default_factory=SeqTracker)  # gaps in its seq (foreshock/seqgaps.py)
    seq_unlogged: int = 0  # messages counted missing since the last warning about them; saved
    seq_logged_at: float | None = None  # wall-clock time (epoch s) of that warning; saved, so a restart keeps the hour
    tel_seq: int | None = None  # seq of the telemetry record that set last_ts["telemetry"] (a copy has the same)
    same_ts: int = 0  # records with that ts but another seq, not assessed, since the last warning about them
    same_ts_logged_at: float | None = None  # monotonic time of that warning
    # what the health topic says, (state, first reason); None: nothing yet (a unit without saved state)
    published: tuple[str, str] | None = None
    reason_published_at: float | None = None  # monotonic time of the last republish for a new reason only
    # the relearn request (Registry.relearn_request's requested_at, epoch s) its detectors last applied; saved
    relearn_applied: float | None = None


class DetectionStage:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        registry: Any = None,
        alerts: Any = None,
        store: TelemetryStore | None = None,
        publish_health: HealthPublisher | None = None,
        on_assessment: AssessmentSink | None = None,
        on_snapshot: Callable[[str, Snapshot], None] | None = None,
        on_saved: Callable[[list[tuple[str, str]]], None] | None = None,
        flush_interval_s: float = 10.0,
        config_refresh_s: float = 300.0,
        monitor_factory: Callable[[MachineInfo | None], UnitMonitor] | None = None,
        flush_on_batch: bool = True,
        pending_path: str | Path | None = None,
        max_pending_alerts: int = 10_000,
        alert_retry_s: float = 2.0,
        health_reason_interval_s: float = 60.0,
        relearn_poll_s: float = 15.0,
    ) -> None:
        if max_pending_alerts < 1:
            raise ValueError(f"max_pending_alerts must be at least 1, got {max_pending_alerts}")
        if not health_reason_interval_s >= 0:
            raise ValueError(f"health_reason_interval_s must be >= 0 seconds, got {health_reason_interval_s}")
        self._health_reason_interval_s = health_reason_interval_s
        if not relearn_poll_s >= 0:
            raise ValueError(f"relearn_poll_s must be >= 0 seconds, got {relearn_poll_s}")
        self._relearn_poll_s = relearn_poll_s
        self._relearn_polled: float | None = None  # monotonic time of the last poll for relearn requests
        self._relearn_since: float | None = None  # the newest request seen by a poll (epoch s)
        self._sessions = session_factory
        self._registry = registry
        self._alerts = alerts
        self._store = store
        self._publish_health = publish_health
        self._on_assessment = on_assessment
        self._on_snapshot = on_snapshot
        self._on_saved = on_saved
        self._flush_interval_s = flush_interval_s
        self._config_refresh_s = config_refresh_s
        self._factory = monitor_factory or (lambda machine: UnitMonitor(machine))
        self._units: dict[str, _Unit] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._flush_on_batch = flush_on_batch
        self._last_flush = time.monotonic()
        self.stats = DetectionStats()
        self._pending: deque[tuple[str, Assessment, str]] = deque()
        self._max_pending = max_pending_alerts
        self._alert_retry_s = alert_retry_s
        self._next_retry = 0.0
        self._pending_path = Path(pending_path) if pending_path is not None else None
        self.alert_error: str | None = None  # why the queue is not empty
        self._load_pending()

    # -- units -------------------------------------------------------------------------------

    def _machine(self, device_id: str) -> MachineInfo | None:
        if self._registry is None:
            return None
        try:
            return self._registry.machine_info(device_id)
        except Exception:  # noqa: BLE001 - a registry hiccup must not stop detection
            log.exception("machine data of %s unavailable; monitoring without it", device_id)
            return None

    def _unit(self, device_id: str) -> _Unit:
        unit = self._units.get(device_id)
        if unit is not None:
            return unit
        machine = self._machine(device_id)
        with self._sessions() as session:
            row = session.get(DetectorState, device_id)
        if row is not None:
            try:
                saved = json.loads(row.state_json)
                unit = _Unit(
                    UnitMonitor.from_state(saved["monitor"], machine), last_ts=dict(saved["last_ts"]), health=row.health,
                    seq=SeqTracker.from_state(saved.get("seq")),
                    published=(row.health, _first_reason(row.assessment_json)),
                    relearn_applied=_relearn_applied(saved.get("relearn")),
                )
                unit.seq_logged_at, unit.seq_unlogged = _seq_warned(saved.get("seq_warned"))
            except (KeyError, ValueError, TypeError) as exc:
                log.warning("detector state of %s unreadable (%s); learning a new baseline", device_id, exc)
        fresh = unit is None
        if unit is None:
            unit = _Unit(self._factory(machine))
        self._units[device_id] = unit
        self._apply_config(device_id, unit)
        if fresh:
            _commission_as_configured(unit.monitor)
        return unit

    def unit_config(self, device_id: str) -> dict[str, Any]:
        """The monitor settings for a unit: its model's detector configuration, made less sensitive by the
        field-feedback factor ``f`` (false alarms, ``AlertService.threshold_factor``).

        ``watch_ratio`` and ``warning_ratio`` (amplitude ratios of the health indicator) are multiplied by
        ``f``, and ``family_db`` is raised by the same step in dB, ``20 log10 f``: the family score is
        ``10 log10`` of lines over background in the *squared* envelope spectrum, a power quantity (g²), so an
        amplitude ratio ``f`` is ``20 log10 f`` dB there (as 2.5 = 8 dB for ``warning_ratio``). Without it
        a healthy unit whose structure shows a bearing-like line stayed in warning, its commissioning
        paused, whatever the technicians found. ``alarm_ratio`` is the failure limit and is not touched.

        ``f`` is capped per unit at ``sqrt(alarm_ratio / warning_ratio)`` of the unit's own configuration
        (the raised warning halfway, on a log scale, to the alarm): a model whose warning and alarm are close
        reached warning >= alarm with the factor, and the whole configuration, its model's own settings
        too, was refused."""
        cfg: dict[str, Any] = {}
        if self._registry is not None and hasattr(self._registry, "detector_config"):
            cfg.update(self._registry.detector_config(device_id) or {})
        factor = 1.0
        if self._alerts is not None and hasattr(self._alerts, "threshold_factor"):
            factor = float(self._alerts.threshold_factor(device_id))
        if factor != 1.0:
            defaults = MonitorConfig()

            def own(key: str) -> float:
                return float(cfg.get(key, getattr(defaults, key)))

            cap = math.sqrt(own("alarm_ratio") / own("warning_ratio")) if own("warning_ratio") > 0 else 1.0
            if factor > cap:
                log.debug("%s: feedback factor %.3g capped at %.3g (sqrt of its alarm_ratio / warning_ratio)",
                          device_id, factor, cap)
                factor = max(1.0, cap)
            for key in ("watch_ratio", "warning_ratio"):
                cfg[key] = own(key) * factor
            cfg["family_db"] = own("family_db") + 20.0 * math.log10(factor)
        return cfg

    def _apply_config(self, device_id: str, unit: _Unit) -> None:
        unit.config_checked = time.monotonic()
        unit.snapshot_changed = True  # a new configuration may reach the detectors' parameters
        try:
            self._apply_machine(device_id, unit)
            cfg = self.unit_config(device_id)
            if cfg:
                unit.monitor.config = dataclasses.replace(unit.monitor.config, **cfg)
        except (TypeError, ValueError) as exc:
            log.warning("detector configuration of %s not applied: %s", device_id, exc)
        except Exception:  # noqa: BLE001 - the registry or database may be briefly unavailable
            log_failure(log, f"detector configuration of {device_id} unavailable; keeping the current one")
        try:
            self._apply_relearn(device_id, unit)
        except Exception:  # noqa: BLE001 - asked again at the next configuration check
            log_failure(log, f"relearn request of {device_id} unavailable; checked again later")

    def _apply_relearn(self, device_id: str, unit: _Unit) -> None:
        """Start a fresh commissioning of the unit when the registry holds a relearn request newer than the one
        its detectors last applied (``foreshock devices relearn``, ``POST /units/{id}/relearn``), once: the
        request applied is saved with the unit's state, so a restart, or another worker loading the state, does
        not apply it again."""
        if self._registry is None or not hasattr(self._registry, "relearn_request"):
            return
        relearn = getattr(unit.monitor, "relearn", None)  # a monitor_factory's own monitor may not relearn
        req = self._registry.relearn_request(device_id)
        if req is None or relearn is None:
            return
        when = float(req["requested_at"])
        if unit.relearn_applied is not None and when <= unit.relearn_applied:
            return
        by, reason = req.get("by"), req.get("reason")
        note = f"relearn requested by {by}" if by else "relearn requested"
        note += f": {reason}" if reason else ""
        if req.get("accept_current"):
            note += " (the defect lines it shows now accepted as its normal)"
        relearn(note, accept_current=bool(req.get("accept_current")))
        unit.relearn_applied = when
        unit.dirty = unit.snapshot_changed = True
        self.stats.relearns += 1
        log.info("%s: %s; learning its baseline afresh", device_id, note)

    def _poll_relearn(self) -> None:
        """Every ``relearn_poll_s``, one query for relearn requests made since the last poll: the units in
        memory that have one check their configuration (and apply it) with their next message, rather than
        at their next configuration check (``config_refresh_s``, 5 minutes)."""
        now = time.monotonic()
        if (self._registry is None or not hasattr(self._registry, "relearn_requests_since")
                or (self._relearn_polled is not None and now - self._relearn_polled < self._relearn_poll_s)):
            return
        self._relearn_polled = now
        # a minute back from the newest seen: a request committed late with an earlier time is not missed
        since = None if self._relearn_since is None else self._relearn_since - 60.0
        try:
            found = self._registry.relearn_requests_since(since)
        except Exception:  # noqa: BLE001 - the configuration check finds it later
            log_failure(log, "relearn requests unavailable; the units' configuration checks find them later")
            return
        if found:
            self._relearn_since = max([*found.values(), self._relearn_since or 0.0])
        with self._lock:
            for device_id, when in found.items():
                unit = self._units.get(device_id)
                if unit is not None and (unit.relearn_applied is None or when > unit.relearn_applied):
                    unit.config_checked = float("-inf")  # checked, and the request applied, with its next message

    def _apply_machine(self, device_id: str, unit: _Unit) -> None:
        """Give the monitor its model's machine data again when it changed (rated speed, bearing, ISO
        group), keeping what it learnt, as a restart does. A running service kept the data it loaded a
        unit with until it was restarted (``devices models update`` or the API changed only the registry)."""
        current = getattr(unit.monitor, "machine", None)
        if self._registry is None or current is None or not hasattr(unit.monitor, "state_dict"):
            return  # a monitor_factory's own monitor
        machine = self._registry.machine_info(device_id) or MachineInfo()
        if machine == current:
            return
        unit.monitor = UnitMonitor.from_state(unit.monitor.state_dict(), machine)
        log.info("%s: the machine data of its model changed; its detectors go on with the new data", device_id)

    def forget(self, device_id: str) -> None:
        """Drop the cached monitor (after the unit's model data changed); the saved state is reloaded."""
        with self._lock:
            self._units.pop(device_id, None)

    # -- the hook ingest calls ----------------------------------------------------------------

    def on_batch(self, messages: list[Any]) -> None:
        """Feed a written batch of ``ingest.types.IngestedMessage`` to the detectors."""
        points: list[Point] = []
        self._poll_relearn()
        with self._lock:
            self._drain_locked()
            for msg in messages:
                try:
                    self._one(msg, points)
                except Exception:  # noqa: BLE001 - one unit's failure must not stop the others
                    self.stats.errors += 1
                    log_failure(log, f"detection failed for {msg.device_id} ({msg.kind})")
            due = self._flush_on_batch and time.monotonic() - self._last_flush >= self._flush_interval_s
        if points and self._store is not None:
            try:
                self._store.write(points)
            except StoreError as exc:
                log.warning("health points not written (%s); the state is kept in the database", exc)
        if due:
            self.flush()

    def _one(self, msg: Any, points: list[Point]) -> None:
        kind = msg.kind
        if kind == "status":
            if self._registry is not None:
                st = msg.parsed.status
                # (retained: the broker's stored copy; a caller that cannot tell passes True, as before)
                self._registry.record_status(msg.device_id, st.state, st.ts_ms, st.firmware,
                                             retained=getattr(msg, "retained", True))
            return
        if self._registry is not None and hasattr(self._registry, "mark_seen"):
            self._registry.mark_seen(msg.device_id, int(msg.received_at * 1000))
        unit = self._unit(msg.device_id)
        if time.monotonic() - unit.config_checked > self._config_refresh_s:
            self._apply_config(msg.device_id, unit)
        if kind == "vibration":
            snap = msg.parsed.snapshot
            self._seq(msg.device_id, unit, snap.seq, snap.ts_ms)  # every axis: one counter per unit
            ts = snap.ts_ms / 1000
            follows = getattr(unit.monitor, "follows", None)  # a monitor_factory's own monitor may not choose
            if follows is not None and not follows(snap.axis):
                self.stats.other_axes += 1  # stored by ingest; the unit's baseline follows another axis
                return
            if ts <= unit.last_ts.get("vibration", float("-inf")):
                self._skip_old(msg.device_id, unit, "vibration", ts)
                return
            snapshot = Snapshot(ts=ts, fs=snap.fs, samples=snap.samples, rpm=snap.rpm, axis=snap.axis)
            if self._on_snapshot is not None:
                self._on_snapshot(msg.device_id, snapshot)
            unit.dirty = unit.snapshot_changed = True
            t0 = time.perf_counter()
            result = unit.monitor.update_snapshot(snapshot)
            self.stats.seconds += time.perf_counter() - t0
            self.stats.snapshots += 1
            unit.last_ts["vibration"] = ts
            self._handle(msg.device_id, unit, result, f"{msg.device_id}:vibration:{snap.seq}:{snap.ts_ms}", points)
        elif kind == "telemetry":
            for rec in msg.parsed.records:
                self._seq(msg.device_id, unit, rec.seq, rec.ts_ms)
                ts = rec.ts_ms / 1000
                newest = unit.last_ts.get("telemetry", float("-inf"))
                if ts == newest and unit.tel_seq is not None and rec.seq != unit.tel_seq:
                    self._same_ts(msg.device_id, unit, rec)  # another record of that instant: not a copy
                    continue
                if ts <= newest:
                    self._skip_old(msg.device_id, unit, "telemetry", ts)
                    continue
                unit.dirty = True
                t0 = time.perf_counter()
                result = unit.monitor.update_scalars(ts, rec.values)
                self.stats.seconds += time.perf_counter() - t0
                self.stats.records += 1
                unit.last_ts["telemetry"] = ts
                unit.tel_seq = rec.seq
                if result is not None:
                    self._handle(msg.device_id, unit, result, f"{msg.device_id}:telemetry:{rec.seq}:{rec.ts_ms}", points)

    def _seq(self, device_id: str, unit: _Unit, seq: int, ts_ms: int) -> None:
        """Count the unit's messages lost before Foreshock (gaps in its ``seq``, foreshock/seqgaps.py) and
        warn about them at most hourly per unit. Without this, messages the broker dropped at its queue
        limit (6,510 of 12,000 in a walk-through), or that a unit's buffer or QoS 0 lost, were invisible."""
        tracker = unit.seq
        before = (tracker.last, len(tracker.gaps))
        counted = tracker.see(seq, ts_ms)  # the usual case (the next seq) is one compare in there
        if counted or before != (tracker.last, len(tracker.gaps)):
            unit.dirty = True  # saved with the next flush, so a restart does not count them again
        if not counted:
            return
        self.stats.seq_missing += counted
        unit.seq_unlogged += counted
        now = time.time()  # not monotonic: saved with the state, the hour holds across a restart
        if unit.seq_logged_at is not None and 0.0 <= now - unit.seq_logged_at < 3600.0:
            return
        since = "" if unit.seq_logged_at is None else f" in the last {(now - unit.seq_logged_at) / 3600:.1f} h"
        log.warning("unit %s: %d message(s) missing (seq gaps)%s: lost before Foreshock received them (unit buffer, "
                    "broker queue limit max_queued_messages, QoS 0); further gaps of this unit are reported at most "
                    "hourly", device_id, unit.seq_unlogged, since)
        unit.seq_logged_at, unit.seq_unlogged = now, 0

    def _same_ts(self, device_id: str, unit: _Unit, rec: Any) -> None:
        """A telemetry record with the ``ts`` of the unit's newest assessed one but another ``seq``: a second
        record of one instant (one message per sensor, stamped alike). Ingest stored it, its values merged
        into the point; the detectors do not assess it. Counted in ``stats.same_ts_records`` and said at most
        hourly per unit: it was counted as an old message among resends, and nobody could tell."""
        self.stats.skipped_old += 1
        self.stats.same_ts_records += 1
        unit.same_ts += 1
        now = time.monotonic()
        if unit.same_ts_logged_at is not None and now - unit.same_ts_logged_at < 3600.0:
            return
        log.warning("%s: %d telemetry record(s) with the same ts as the one before (%s), another seq (%d after %d): "
                    "stored, values added to that point, but not assessed; a unit sends every value of one instant "
                    "in one record (docs/device-protocol.md); said at most hourly per unit", device_id, unit.same_ts,
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(rec.ts_ms / 1000)), rec.seq, unit.tel_seq)
        unit.same_ts_logged_at, unit.same_ts = now, 0

    def relearn_applied(self, device_id: str) -> float | None:
        """The time of the relearn request the unit's detectors last applied (``None``: none, or not known
        here): from the running unit, else from its saved state."""
        unit = self._units.get(device_id)
        if unit is not None:
            return unit.relearn_applied
        with self._sessions() as session:
            row = session.get(DetectorState, device_id)
        return relearn_in_saved_state(row.state_json) if row is not None else None

    def seq_missing(self, device_id: str) -> int | None:
        """Messages of a unit counted lost before Foreshock received them (``None``: not known here)."""
        unit = self._units.get(device_id)
        if unit is not None and unit.seq.last is not None:
            return unit.seq.missing
        with self._sessions() as session:
            row = session.get(DetectorState, device_id)
        return missing_in_saved_state(row.state_json) if row is not None else None

    def _skip_old(self, device_id: str, unit: _Unit, kind: str, ts: float) -> None:
        """Count a message older than what the unit's detectors learnt; say so (at most hourly per unit)
        when it is far older. A unit whose clock went back an hour was stored but silently not assessed
        for that hour (a clock reset to 2001 for ever): only ``stats.skipped_old`` knew."""
        self.stats.skipped_old += 1
        newest = unit.last_ts[kind]
        if newest - ts <= _FAR_BEHIND_S:  # a duplicate or a message overtaken by the next one: normal
            return
        unit.far_behind += 1
        now = time.monotonic()
        if now < unit.next_behind_log:
            return
        unit.next_behind_log = now + 3600.0
        log.warning("%s: %d message(s) stored but not assessed: older than the newest its detectors learnt from "
                    "(%s at %s), this one by %.0f s. Its clock may have gone back; it is assessed again once its "
                    "messages are newer than that", device_id, unit.far_behind, kind,
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(newest)), newest - ts)
        unit.far_behind = 0

    def _handle(self, device_id: str, unit: _Unit, result: Assessment, source_key: str, points: list[Point]) -> None:
        self.stats.assessments += 1
        if self._on_assessment is not None:
            self._on_assessment(device_id, result)
        if self._alerts is not None:
            self._deliver(device_id, result, source_key)
        fields: dict[str, float | int | str] = {"state_code": HEALTH_ORDER[result.state]}
        fields.update({k: float(v) for k, v in result.scores.items() if isinstance(v, (int, float))})
        if result.ttf_s is not None:
            fields["ttf_s"] = float(result.ttf_s)
        if result.failure_mode:
            fields["failure_mode"] = result.failure_mode
        points.append(Point("health", {"device": device_id}, fields, int(round(result.ts * 1000))))
        unit.latest = result.to_dict()
        if result.state != unit.health:
            log.info("%s: health %s -> %s %s", device_id, unit.health, result.state, "; ".join(result.reasons[:2]))
            unit.health = result.state
            self.stats.health_changes += 1
        if self._publish_health is not None:
            self._publish(device_id, unit, result)

    def _publish(self, device_id: str, unit: _Unit, result: Assessment) -> None:
        """Publish the unit's health (retained) when the topic would otherwise say something else: its first
        assessment, even ``unknown`` (a new unit whose snapshots cannot be assessed got no message at all);
        a change of state; and, while ``unknown``, a new first reason (a second cause kept the first one on
        the topic), at most once per ``health_reason_interval_s`` per unit: a unit flapping between two
        causes does not publish with every message. A new reason held back is published with the next
        ``unknown`` assessment after the interval."""
        state = result.state if result.state in ("healthy", "watch", "warning", "alarm") else "unknown"
        reason = result.reasons[0] if result.reasons else ""
        said = unit.published
        if said is not None and said[0] == state:
            if state != "unknown" or said[1] == reason:
                return
            now = time.monotonic()
            if (unit.reason_published_at is not None
                    and now - unit.reason_published_at < self._health_reason_interval_s):
                return
            unit.reason_published_at = now
        from devices.protocol import health_payload

        payload = health_payload(state, int(round(result.ts * 1000)), failure_mode=result.failure_mode,
                                 ttf_s=result.ttf_s, reasons=result.reasons[:5])
        unit.published = (state, reason)
        assert self._publish_health is not None
        try:
            self._publish_health(device_id, payload)
        except Exception:  # noqa: BLE001 - the state is published again on the next change
            log.exception("could not publish the health of %s", device_id)

    # -- alerts while the database is down ---------------------------------------------------

    @property
    def alert_backlog(self) -> int:
        """Assessments waiting for the database."""
        return len(self._pending)

    def _deliver(self, device_id: str, result: Assessment, source_key: str) -> None:
        if not self._pending and self._try(device_id, result, source_key):
            return
        self._enqueue(device_id, result, source_key)
        self._drain_locked()

    def _try(self, device_id: str, result: Assessment, source_key: str) -> bool:
        """Apply one assessment; ``False`` when the database is unavailable (retry later)."""
        assert self._alerts is not None
        try:
            self._alerts.handle_assessment(device_id, result, source_key=source_key)
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
            if self.alert_error is None:
                log.error("database unavailable: queueing alert updates (%s)", str(exc).splitlines()[0][:300])
            self.alert_error = f"database unavailable: {str(exc).splitlines()[0][:300]}"
            self._next_retry = time.monotonic() + self._alert_retry_s
            return False
        return True

    def _enqueue(self, device_id: str, result: Assessment, source_key: str) -> None:
        if len(self._pending) >= self._max_pending:
            dropped = self._pending.popleft()
            self.stats.alerts_dropped += 1
            log.error("alert queue full (%d): dropped the assessment %s of %s", self._max_pending, dropped[2],
                      dropped[0])
        self._pending.append((device_id, result, source_key))
        self.stats.alerts_queued += 1
        if self._pending_path is not None:
            try:
                with open(self._pending_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps([device_id, result.to_dict(), source_key], default=_jsonable) + "\n")
            except OSError as exc:
                log.error("cannot persist the alert queue to %s: %s", self._pending_path, exc)

    def _drain_locked(self, force: bool = False) -> None:
        if not self._pending or (not force and time.monotonic() < self._next_retry):
            return
        while self._pending:
            device_id, result, key = self._pending[0]
            try:
                if not self._try(device_id, result, key):
                    return
            except Exception:  # noqa: BLE001 - not an outage: a bad entry must not block the queue
                self.stats.errors += 1
                log.exception("queued assessment %s of %s could not be applied; dropped", key, device_id)
            self._pending.popleft()
            self.stats.alerts_retried += 1
        if self.alert_error is not None:
            log.info("database back: the queued alert updates are applied")
        self.alert_error = None
        if self._pending_path is not None:
            self._pending_path.unlink(missing_ok=True)

    def _load_pending(self) -> None:
        if self._pending_path is None or not self._pending_path.exists():
            return
        for line in self._pending_path.read_text(encoding="utf-8").splitlines()[-self._max_pending:]:
            try:
                device_id, doc, key = json.loads(line)
                self._pending.append((device_id, Assessment(**doc), key))
            except (ValueError, TypeError) as exc:  # a torn last line after a crash
                log.warning("unreadable entry in %s skipped: %s", self._pending_path, exc)
        if self._pending:
            log.info("%d queued alert updates from the last run will be applied", len(self._pending))

    # -- persistence ------------------------------------------------------------------------

    def _state_json(self, unit: _Unit, fresh: bool) -> str:
        """The unit's saved form, ``{"monitor": state_dict(), "last_ts": ..., "seq": ...}`` (and ``"relearn"``: the
        relearn request applied, once one is), reusing the JSON of the
        snapshot parts when no snapshot (or configuration) reached the unit since it was made."""
        state = unit.monitor.state_dict()
        seq = unit.seq.state()
        # the relearn request applied, once there is one (Registry.relearn_request: epoch seconds)
        relearn = {} if unit.relearn_applied is None else {"relearn": unit.relearn_applied}
        if unit.seq_logged_at is not None or unit.seq_unlogged:
            relearn["seq_warned"] = {"at": unit.seq_logged_at, "unwarned": unit.seq_unlogged}
        if not isinstance(state, dict):
            return json.dumps({"monitor": state, "last_ts": unit.last_ts, "seq": seq, **relearn})
        if fresh or unit.snapshot_changed or unit.snapshot_json is None or unit.reused >= _FULL_EVERY:
            unit.snapshot_json = json.dumps({k: state[k] for k in _SNAPSHOT_KEYS if k in state})[1:-1]
            unit.snapshot_changed, unit.reused = False, 0
        else:
            unit.reused += 1
            self.stats.states_reused += 1
        rest = json.dumps({k: v for k, v in state.items() if k not in _SNAPSHOT_KEYS})[1:-1]
        members = ", ".join(part for part in (unit.snapshot_json, rest) if part)
        tail = "".join(f", {json.dumps(k)}: {json.dumps(v)}" for k, v in relearn.items())
        return f'{{"monitor": {{{members}}}, "last_ts": {json.dumps(unit.last_ts)}, "seq": {json.dumps(seq)}{tail}}}'

    def _collect_locked(self, device_ids: list[str] | None = None,
                        fresh: bool = False) -> list[tuple[str, str, str, str | None]]:
        """Serialise the state of every changed unit (or of ``device_ids``), under the lock, and mark it
        clean; ``fresh``: serialise every part afresh (reuse nothing)."""
        rows = []
        for device_id in self._units if device_ids is None else device_ids:
            unit = self._units.get(device_id)
            if unit is not None and unit.dirty:
                state = self._state_json(unit, fresh)
                self.stats.states_saved += 1
                latest = json.dumps(unit.latest, default=_jsonable) if unit.latest else None
                rows.append((device_id, state, unit.health, latest))
                unit.dirty = False
        self._last_flush = time.monotonic()
        return rows

    def _collect(self) -> list[tuple[str, str, str, str | None]]:
        """Serialise every changed unit's state, taking the detection lock for ``_COLLECT_CHUNK`` units at a
        time: with 1,000 units the whole serialisation takes 0.15-0.3 s, and holding the lock for all of it
        made every batch arriving meanwhile wait (the soak's p99 spikes every flush)."""
        with self._lock:
            dirty = [device_id for device_id, unit in self._units.items() if unit.dirty]
        rows = []
        for i in range(0, len(dirty), _COLLECT_CHUNK):
            with self._lock:
                rows += self._collect_locked(dirty[i:i + _COLLECT_CHUNK])
        return rows

    def _write_states(self, rows: list[tuple[str, str, str, str | None]]) -> None:
        """Write serialised states, outside the detection lock (detection goes on meanwhile). On a
        failure the units are marked changed again, so the next flush writes them."""
        if not rows:
            return
        try:
            with self._sessions() as session:
                ids = [r[0] for r in rows]
                existing = {row.device_id: row for row in
                            session.scalars(select(DetectorState).where(DetectorState.device_id.in_(ids)))}
                for device_id, state, health, latest in rows:
                    row = existing.get(device_id)
                    if row is None:
                        session.add(DetectorState(device_id=device_id, state_json=state, health=health,
                                                  assessment_json=latest))
                    else:
                        row.state_json, row.health, row.assessment_json = state, health, latest
                session.commit()
        except Exception:
            with self._lock:
                for device_id, *_ in rows:
                    if (unit := self._units.get(device_id)) is not None:
                        unit.dirty = True
            raise

    def flush(self) -> None:
        """Apply queued alert updates when due, and write every changed unit's detector state now;
        then ``on_saved`` gets the (unit, health) of those written."""
        with self._write_lock:  # one flush at a time, so an older state is never written last
            with self._lock:
                self._drain_locked()
            rows = self._collect()
            self._write_states(rows)
        if rows and self._on_saved is not None:
            try:  # what the API reads has changed: tell who listens (the dashboard's live pages)
                self._on_saved([(device_id, health) for device_id, _, health, _ in rows])
            except Exception:  # noqa: BLE001 - a listener's failure is not the detection stage's
                log.exception("the listener of saved health failed")

    def close(self) -> None:
        with self._write_lock:
            with self._lock:
                self._drain_locked(force=True)
                if self._pending:
                    log.error("%d alert updates still wait for the database; kept in %s for the next start",
                              len(self._pending), self._pending_path or "memory only (no pending_path): lost")
                rows = self._collect_locked(fresh=True)
            try:
                self._write_states(rows)
            except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
                log.error("detector state not saved at shutdown (database unavailable: %s); the next start "
                          "resumes from the last saved state", str(exc).splitlines()[0][:300])

    def health_of(self, device_id: str) -> dict[str, Any] | None:
        """The latest assessment of a unit (from memory, else from the database)."""
        unit = self._units.get(device_id)
        if unit is not None and unit.latest:
            return unit.latest
        with self._sessions() as session:
            row = session.get(DetectorState, device_id)
            return json.loads(row.assessment_json) if row is not None and row.assessment_json else None


def _commission_as_configured(monitor: Any) -> None:
    """A new unit's baselines as its configuration says (its model's ``warmup``): the monitor was made with
    the default configuration and given the unit's afterwards, and its baselines, made with it, kept the
    default ``warmup``. Nothing is learnt yet, so nothing is lost. A ``monitor_factory``'s own monitor
    without these parts is left as it is."""
    baseline = getattr(monitor, "baseline", None)
    config = getattr(monitor, "config", None)
    if (getattr(monitor, "n_learnt", None) == 0 and baseline is not None and config is not None
            and getattr(baseline, "warmup", None) != getattr(config, "warmup", None)):
        monitor._new_baselines()


def relearn_in_saved_state(state_json: str) -> float | None:
    """The time of the relearn request a unit's saved detector state applied (None: none, or unreadable)."""
    try:
        return _relearn_applied(json.loads(state_json).get("relearn"))
    except (ValueError, TypeError, AttributeError):
        return None


def _relearn_applied(v: Any) -> float | None:
    """The relearn request a saved state applied (None: none, or a state saved before requests existed)."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"relearn must be the time of the request applied, got {v!r}")
    return float(v)


def _first_reason(assessment_json: str | None) -> str:
    """The first reason of a saved assessment ("" when there is none or it is unreadable)."""
    try:
        reasons = json.loads(assessment_json or "{}").get("reasons") or [""]
        return str(reasons[0])
    except (ValueError, AttributeError, TypeError, IndexError):
        return ""


def _jsonable(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


def _seq_warned(doc: Any) -> tuple[float | None, int]:
    """The saved ``"seq_warned"`` of a unit: when its last seq-gap warning was logged (epoch s) and how many
    missing messages were counted since; ``(None, 0)`` when absent or unreadable."""
    if not isinstance(doc, dict):
        return None, 0
    at, unwarned = doc.get("at"), doc.get("unwarned")
    at = float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at) else None
    ok = isinstance(unwarned, int) and not isinstance(unwarned, bool) and unwarned >= 0
    return at, unwarned if ok else 0
