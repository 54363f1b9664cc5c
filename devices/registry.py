"""The registry of sold units and their machine models.

:class:`Registry` is the one way the rest of Foreshock reads and changes units: ingest asks
:meth:`Registry.is_known` for every message (answered from an in-memory set, reloaded after every
change made through this registry and at the latest every ``cache_ttl_s`` for changes made by
other processes; an id not in it is looked up once a second), the detectors get a unit's :class:`~detectors.types.MachineInfo`, alerts ask
for :meth:`~Registry.silent_units`. Objects returned are detached :class:`~devices.models.Unit` /
:class:`~devices.models.MachineModel` rows: read them, change them through the registry.

>>> from foreshock.db import make_engine, migrate, session_factory
>>> engine = make_engine("sqlite://"); migrate(engine)
>>> reg = Registry(session_factory(engine))
>>> _ = reg.create_model("P-200", rated_rpm=1480, bearing={"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04})
>>> _ = reg.create_unit("P-0001", model="P-200", customer="ACME", tags=["pilot"])
>>> reg.is_known("P-0001"), reg.is_known("P-0002")
(True, False)
>>> reg.machine_info("P-0001").rated_rpm
1480.0
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from detectors.types import MachineInfo
from devices import presence as _presence
from devices import provisioning as _provisioning
from devices.errors import AlreadyExists, InvalidInput, NotFound, RegistryError
from devices.mapping import apply_model, apply_unit, to_machine_info
from devices.models import MachineModel, Unit
from devices.presence import Presence, SilentUnit
from devices.query import UnitFilter, count_units, select_unit_ids, select_units
from devices.schemas import ModelIn, ModelUpdate, UnitIn, UnitUpdate, check_device_id, validate
from devices.serials import SerialsMixin, serial_key
from foreshock.db import utcnow

__all__ = ["Registry", "Presence", "SilentUnit", "UnitFilter", "UpsertCounts", "check_service_state", "epoch_s",
           "relearn_of"]

log = logging.getLogger(__name__)

RELEARN_REASON_MAX = 500  # characters of a relearn request's reason


def epoch_s(when: datetime) -> float:
    """A stored time as epoch seconds (SQLite gives it back without its zone: it was stored in UTC)."""
    return (when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)).timestamp()


def check_service_state(device_id: str, decommissioned_at: datetime | None, row_decommissioned: bool) -> None:
    """Refuse a whole-record write (a CSV row) that would change whether unit ``device_id`` is in
    service: ``decommissioned_at`` is the unit's, ``row_decommissioned`` whether the row says it is
    out of service. An import used to update a decommissioned unit, say "updated", and leave it out of
    service; taking a unit out of service or back is its own command."""
    if decommissioned_at is not None and not row_decommissioned:
        raise InvalidInput("device_id", f"unit {device_id!r} was decommissioned on {decommissioned_at:%Y-%m-%d}; "
                                        f"put it back in service first (foreshock devices recommission {device_id}), "
                                        "or give its decommissioned_at to change its record only")
    if decommissioned_at is None and row_decommissioned:
        raise InvalidInput("decommissioned_at", f"unit {device_id!r} is in service; an import does not take units "
                                                f"out of service (foreshock devices decommission {device_id})")


def relearn_of(unit: Unit) -> dict[str, Any] | None:
    """A unit's latest request to relearn its detector baseline, as JSON-able data (None: never asked)."""
    if unit.relearn_requested_at is None:
        return None
    when = datetime.fromtimestamp(epoch_s(unit.relearn_requested_at), timezone.utc)
    return {"requested_at": when.isoformat(), "accept_current": bool(unit.relearn_accept), "by": unit.relearn_by,
            "reason": unit.relearn_reason}


class UpsertCounts(tuple):
    """``(created, updated)``, as a tuple; ``unchanged``: how many of the updated units the rows left as
    they were (an import of last quarter's file again said "10000 updated" when nothing changed)."""

    unchanged: int

    def __new__(cls, created: int, updated: int, unchanged: int = 0) -> UpsertCounts:
        counts = super().__new__(cls, (created, updated))
        counts.unchanged = unchanged
        return counts


class Registry(_presence.PresenceMixin, _provisioning.ProvisioningMixin, SerialsMixin):
    """Units and models in the relational store, with the caches ingest needs.

    A unit's serial number is unique whatever its letter case (:mod:`devices.serials`): methods that
    take a ``device_id`` take it as registered, and :meth:`find_unit` / :meth:`registered_serial` find
    a unit by its serial typed in any case.

    ``silent_after_intervals``: a unit is silent after this many of its model's reporting intervals
    without a message; ``default_reporting_interval_s`` applies to units without a model (``None``:
    such units are never reported silent); ``seen_write_interval_s``: :meth:`mark_seen` writes a
    unit's last-seen time to the database at most this often (the in-process view is always exact).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        cache_ttl_s: float = 30.0,
        silent_after_intervals: float = 3.0,
        default_reporting_interval_s: float | None = 60.0,
        seen_write_interval_s: float = 30.0,
    ) -> None:
        if cache_ttl_s <= 0:
            raise ValueError(f"cache_ttl_s must be > 0, got {cache_ttl_s}")
        if silent_after_intervals <= 0:
            raise ValueError(f"silent_after_intervals must be > 0, got {silent_after_intervals}")
        if default_reporting_interval_s is not None and default_reporting_interval_s <= 0:
            raise ValueError(f"default_reporting_interval_s must be > 0 or None, got {default_reporting_interval_s}")
        if seen_write_interval_s < 0:
            raise ValueError(f"seen_write_interval_s must be >= 0, got {seen_write_interval_s}")
        self.session_factory = session_factory
        self.cache_ttl_s = cache_ttl_s
        self.silent_after_intervals = silent_after_intervals
        self.default_reporting_interval_s = default_reporting_interval_s
        self.seen_write_interval_ms = int(seen_write_interval_s * 1000)
        self._lock = threading.Lock()
        # (ids in service, monotonic expiry); replaced whole so the hot path reads it without the lock
        self._snapshot: tuple[frozenset[str], float] | None = None
        self._generation = 0  # bumped by invalidate(): a load that raced with a change is not cached
        self._info: dict[str, MachineInfo | None] = {}
        self._seen: dict[str, int] = {}
        self._misses: dict[str, float] = {}  # id -> monotonic time it was last looked up and not found
        self._seen_written: dict[str, int] = {}
        # set by a caller that writes the last-seen times itself with flush_seen() on a timer (the
        # pipeline's tick loop): mark_seen then only remembers, even a unit's first message
        self.defer_seen_writes = False
        self.cache_loads = 0  # how often the known-id set was read from the database (tests, metrics)
        self._case_warned: set[str] = set()  # ids auto_register refused as another spelling (warned once)

    # -- sessions and caches -------------------------------------------------------------------

    @contextmanager
    def _session(self, write: bool = False) -> Iterator[Session]:
        session = self.session_factory()
        try:
            yield session
            if write:
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        if write:
            self.invalidate()

    @staticmethod
    def _detach(session: Session, obj: Any) -> Any:
        session.flush()
        session.refresh(obj)
        session.expunge(obj)
        return obj

    def invalidate(self) -> None:
        """Forget the cached ids and machine data (called after every change made through this registry)."""
        with self._lock:
            self._generation += 1
            self._snapshot = None
            self._info.clear()

    def _fresh_known(self) -> tuple[frozenset[str], int]:
        """The ids in service and the cache generation they belong to."""
        with self._lock:
            snap, generation = self._snapshot, self._generation
        if snap is not None and time.monotonic() < snap[1]:
            return snap[0], generation
        with self.session_factory() as session:
            ids = frozenset(session.scalars(select(Unit.device_id).where(Unit.decommissioned_at.is_(None))))
        with self._lock:
            if generation == self._generation:
                self._generation += 1  # machine data cached before this reload is dropped too
                generation = self._generation
                self._snapshot = (ids, time.monotonic() + self.cache_ttl_s)
                self._info.clear()
                self.cache_loads += 1
        return ids, generation

    def is_known(self, device_id: str) -> bool:
        """Whether ``device_id`` is a registered unit in service (cheap: an in-memory set lookup).

        An id not in the cached set is looked up in the database, at most once per
        ``MISS_RECHECK_S`` per id, so a unit registered by another process (the CLI, a second API
        worker) is accepted from its first messages, not only after ``cache_ttl_s``.
        """
        snap = self._snapshot
        if snap is not None and time.monotonic() < snap[1]:
            known = device_id in snap[0]
        else:
            known = device_id in self._fresh_known()[0]
        return known or self._recheck_miss(device_id)

    MISS_RECHECK_S = 1.0
    _MAX_MISSES = 10_000  # ids remembered for the recheck interval (a flood of made-up ids stays bounded)

    def _recheck_miss(self, device_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._misses.get(device_id)
            if last is not None and now - last < self.MISS_RECHECK_S:
                return False
            if len(self._misses) >= self._MAX_MISSES:
                self._misses.clear()
            self._misses[device_id] = now
        with self.session_factory() as session:
            found = session.scalar(
                select(Unit.device_id).where(Unit.device_id == device_id, Unit.decommissioned_at.is_(None))
            )
        if found is None:
            return False
        log.info("unit %s was registered elsewhere; reloading the registry's cache", device_id)
        self.invalidate()
        with self._lock:
            self._misses.pop(device_id, None)
        return True

    # -- machine models ------------------------------------------------------------------------

    def create_model(self, name: str, **fields: Any) -> MachineModel:
        """Register a machine model; ``fields`` as in :class:`devices.schemas.ModelIn`."""
        data = validate(ModelIn, {"name": name, **fields})
        try:
            with self._session(write=True) as session:
                if session.scalar(select(MachineModel.id).where(MachineModel.name == data.name)) is not None:
                    raise AlreadyExists(f"machine model {data.name!r} already exists")
                model = MachineModel(name=data.name, sensors=[], detector_config={})
                apply_model(model, data.model_dump(exclude={"name"}, exclude_unset=False), creating=True)
                session.add(model)
                return self._detach(session, model)
        except IntegrityError:  # created concurrently by another writer (two `devices models add` at once)
            raise AlreadyExists(f"machine model {data.name!r} already exists") from None

    def update_model(self, name: str, **changes: Any) -> MachineModel:
        """Change the given fields of model ``name``."""
        data = validate(ModelUpdate, changes)
        with self._session(write=True) as session:
            model = self._model_row(session, name)
            apply_model(model, data.model_dump(exclude_unset=True), creating=False)
            return self._detach(session, model)

    def remove_model(self, name: str) -> None:
        """Remove machine model ``name`` (one added by mistake, a misspelt name); refused while a unit,
        decommissioned ones included, has it: their history points at it."""
        with self._session(write=True) as session:
            model = self._model_row(session, name)
            users = list(session.scalars(select(Unit.device_id).where(Unit.model_id == model.id)
                                         .order_by(Unit.device_id).limit(4)))
            if users:
                total = session.scalar(select(func.count()).select_from(Unit).where(Unit.model_id == model.id))
                shown = ", ".join(users[:3]) + (", ..." if total > 3 else "")
                raise RegistryError(f"machine model {name!r} is the model of {total} unit(s) ({shown}), "
                                    "decommissioned ones included; move them to another model first")
            session.delete(model)
        log.info("machine model %s removed", name)

    def get_model(self, name: str) -> MachineModel | None:
        with self._session() as session:
            model = session.scalar(select(MachineModel).where(MachineModel.name == name))
            return model

    def list_models(self) -> list[MachineModel]:
        with self._session() as session:
            return list(session.scalars(select(MachineModel).order_by(MachineModel.name)))

    @staticmethod
    def _model_row(session: Session, name: str) -> MachineModel:
        model = session.scalar(select(MachineModel).where(MachineModel.name == name))
        if model is None:
            raise NotFound(f"no machine model named {name!r}")
        return model

    # -- units ---------------------------------------------------------------------------------

    def create_unit(self, device_id: str, **fields: Any) -> Unit:
        """Register unit ``device_id`` (its serial number); ``fields`` as in :class:`devices.schemas.UnitIn`."""
        check_device_id(device_id)
        data = validate(UnitIn, fields)
        try:
            with self._session(write=True) as session:
                if (old := session.get(Unit, device_id)) is not None:
                    if old.decommissioned_at is not None:  # lists hide it: say why the serial is taken
                        raise AlreadyExists(f"unit {device_id!r} is already registered: it was decommissioned on "
                                            f"{old.decommissioned_at:%Y-%m-%d} and a serial number is never reused "
                                            "(its history keeps pointing at it); to put this unit back in service: "
                                            f"foreshock devices recommission {device_id}")
                    raise AlreadyExists(f"unit {device_id!r} is already registered")
                if twins := self._case_twins(session, device_id):
                    raise AlreadyExists(self._twin_problem(device_id, twins[0]))
                unit = Unit(device_id=device_id, tags=[], presence="unknown", auto_registered=False)
                apply_unit(session, unit, data.model_dump(exclude_unset=True))
                session.add(unit)
                return self._detach(session, unit)
        except IntegrityError:  # registered concurrently by another writer (in this or another letter case)
            with self._session() as session:
                twin = self._find_row(session, device_id)
            if twin is not None and twin.device_id != device_id:
                raise AlreadyExists(self._twin_problem(device_id, twin)) from None
            raise AlreadyExists(f"unit {device_id!r} is already registered") from None

    @staticmethod
    def _twin_problem(device_id: str, twin: Unit) -> str:
        """Why ``device_id`` cannot be registered: ``twin`` has its serial in another letter case."""
        state = (f" (decommissioned on {twin.decommissioned_at:%Y-%m-%d}: foreshock devices recommission "
                 f"{twin.device_id} puts it back in service)" if twin.decommissioned_at is not None else "")
        return (f"unit {device_id!r} is already registered as {twin.device_id!r}{state}: serial numbers are the same "
                "whatever their letter case; use the registered spelling, which its broker username and topics use")

    def update_unit(self, device_id: str, **changes: Any) -> Unit:
        """Change the given fields of unit ``device_id``."""
        data = validate(UnitUpdate, changes)
        with self._session(write=True) as session:
            unit = self._unit_row(session, device_id)
            apply_unit(session, unit, data.model_dump(exclude_unset=True))
            return self._detach(session, unit)

    def decommission(self, device_id: str) -> Unit:
        """Take a unit out of service: it is no longer known to ingest and its broker access is revoked."""
        with self._session(write=True) as session:
            unit = self._unit_row(session, device_id)
            if unit.decommissioned_at is None:
                unit.decommissioned_at = utcnow()
                if unit.mqtt_password_hash is not None:
                    unit.mqtt_password_hash = None
                    unit.revoked_at = unit.decommissioned_at
                log.info("unit %s decommissioned", device_id)
            return self._detach(session, unit)

    def recommission(self, device_id: str) -> Unit:
        """Put a decommissioned unit back in service (scrapped by mistake, refurbished, returned).

        Ingest knows it again at once. Its credential stays revoked (``provision`` gives it a new
        one) and its presence starts afresh (``unknown``, never seen): what was recorded before it
        was taken out of service would make it "silent" at once. A unit in service is left as it is.
        """
        with self._session(write=True) as session:
            unit = self._unit_row(session, device_id)
            if unit.decommissioned_at is not None:
                if twins := self._case_twins(session, device_id, in_service=True):
                    raise RegistryError(f"unit {device_id!r} cannot go back in service: unit {twins[0].device_id!r}, "
                                        "the same serial in another letter case, is in service (one unit per "
                                        "serial; serial numbers are the same whatever their letter case)")
                unit.decommissioned_at = None
                unit.presence, unit.presence_ts_ms, unit.presence_by_will = "unknown", None, False
                unit.last_seen_ms = None
                with self._lock:
                    self._seen.pop(device_id, None)
                    self._seen_written.pop(device_id, None)
                log.info("unit %s re-commissioned", device_id)
            return self._detach(session, unit)

    def request_relearn(self, device_id: str, *, accept_current: bool = False, reason: str | None = None,
                        by: str | None = None) -> Unit:
        """Ask for unit ``device_id``'s detector baseline to be learnt again (after a repair: a new bearing, a
        realignment), from its next snapshots; ``accept_current``: the defect lines it shows now are its normal
        (a frame resonance a technician has judged), and only a line growing above them warns.

        The request is recorded on the unit row (when, by whom, why; the latest request replaces the one
        before) and the detection stage, whatever process runs it, applies a request newer than the last one it
        applied, once (:meth:`relearn_request`). A decommissioned unit is refused (it sends nothing)."""
        reason = (reason or "").strip() or None
        by = (by or "").strip() or None
        if reason is not None and len(reason) > RELEARN_REASON_MAX:
            raise InvalidInput("reason", f"at most {RELEARN_REASON_MAX} characters, got {len(reason)}")
        if by is not None and len(by) > 200:
            raise InvalidInput("by", f"at most 200 characters, got {len(by)}")
        with self._session(write=True) as session:
            unit = self._unit_row(session, device_id)
            if unit.decommissioned_at is not None:
                raise RegistryError(f"unit {device_id!r} was decommissioned on {unit.decommissioned_at:%Y-%m-%d}: "
                                    "it has no baseline to relearn (recommission it first)")
            unit.relearn_requested_at = utcnow()
            unit.relearn_accept, unit.relearn_by, unit.relearn_reason = bool(accept_current), by, reason
            log.info("unit %s: baseline relearn requested by %s%s: %s", device_id, by or "(unnamed)",
                     " accepting its current defect lines" if accept_current else "", reason or "(no reason given)")
            return self._detach(session, unit)

    def relearn_request(self, device_id: str) -> dict[str, Any] | None:
        """Unit ``device_id``'s latest relearn request, ``{"requested_at": epoch seconds, "accept_current",
        "by", "reason"}``, or None (none asked, or no such unit)."""
        with self._session() as session:
            row = session.execute(select(Unit.relearn_requested_at, Unit.relearn_accept, Unit.relearn_by,
                                         Unit.relearn_reason).where(Unit.device_id == device_id)).first()
        if row is None or row[0] is None:
            return None
        return {"requested_at": epoch_s(row[0]), "accept_current": bool(row[1]), "by": row[2], "reason": row[3]}

    def relearn_requests_since(self, since_s: float | None) -> dict[str, float]:
        """The units with a relearn request made after ``since_s`` (epoch seconds; None: any), and when
        (epoch seconds): what the detection stage polls, so that a request is applied within seconds."""
        stmt = select(Unit.device_id, Unit.relearn_requested_at).where(Unit.relearn_requested_at.is_not(None))
        if since_s is not None:
            stmt = stmt.where(Unit.relearn_requested_at > datetime.fromtimestamp(since_s, timezone.utc))
        with self._session() as session:
            return {d: epoch_s(when) for d, when in session.execute(stmt)}

    def service_states(self, device_ids: list[str]) -> dict[str, datetime | None]:
        """The registered units among ``device_ids``: when each was decommissioned (None: in service)."""
        out: dict[str, datetime | None] = {}
        with self._session() as session:
            for i in range(0, len(device_ids), 500):
                stmt = select(Unit.device_id, Unit.decommissioned_at).where(Unit.device_id.in_(device_ids[i : i + 500]))
                out.update((d, when) for d, when in session.execute(stmt))
        return out

    def auto_register(self, device_id: str) -> bool:
        """Register an unknown device seen on the broker (no model, flagged ``auto_registered``);
        returns whether ``device_id`` is now a unit in service.

        Does nothing for a unit already registered, including a decommissioned one (which stays
        out of service: :meth:`is_known` keeps answering False for it), and refuses a device whose
        serial is registered in another letter case (``p-0002`` publishing while ``P-0002`` is
        registered: a warning, once per id and process; the unit must publish as registered).
        """
        check_device_id(device_id)
        try:
            with self._session(write=True) as session:
                unit = session.get(Unit, device_id)
                if unit is not None:
                    if unit.decommissioned_at is not None:
                        log.warning("decommissioned unit %s is publishing; not re-registered", device_id)
                    return unit.decommissioned_at is None
                if twins := self._case_twins(session, device_id):
                    self._warn_case_twin_once(device_id, twins[0].device_id)
                    return False
                session.add(Unit(device_id=device_id, tags=[], presence="unknown", auto_registered=True))
                log.info("unit %s auto-registered", device_id)
            return True
        except IntegrityError:
            log.debug("unit %s auto-registered concurrently", device_id)
            self.invalidate()
            return self.is_known(device_id)

    def upsert_units(
        self, items: list[tuple[str, UnitIn]], decommissioned: dict[str, datetime] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> UpsertCounts:
        """Create or wholly replace the given units in one transaction; returns ``(created, updated)``
        (an :class:`UpsertCounts`, whose ``unchanged`` counts the updated units left as they were).

        Every field of an existing unit is set from its :class:`UnitIn` (unset fields are cleared).
        ``decommissioned`` (device id -> when) names the units the caller knows to be out of service
        (an export with decommissioned units): a new one is created decommissioned, an existing
        decommissioned one stays so. Neither way does this change whether a unit is in service: a
        decommissioned unit not named there, or an in-service unit named there, raises
        :class:`InvalidInput` and nothing is written. ``progress(done, total)`` is called every
        1,000 units and at the end.
        """
        decommissioned = decommissioned or {}
        created = updated = unchanged = 0
        for device_id, _ in items:
            check_device_id(device_id)
        with self._session(write=True) as session, session.no_autoflush:
            models = {m.name: m for m in session.scalars(select(MachineModel))}
            ids = [device_id for device_id, _ in items]
            existing: dict[str, Unit] = {}
            for i in range(0, len(ids), 500):
                chunk = select(Unit).where(Unit.device_id.in_(ids[i : i + 500]))
                existing.update((u.device_id, u) for u in session.scalars(chunk).unique())
            self._refuse_case_twins(session, [d for d in ids if d not in existing])
            for done, (device_id, data) in enumerate(items, 1):
                unit = existing.get(device_id)
                new = unit is None
                if new:
                    unit = Unit(device_id=device_id, tags=[], presence="unknown", auto_registered=False,
                                decommissioned_at=decommissioned.get(device_id))
                    session.add(unit)
                    existing[device_id] = unit
                    created += 1
                else:
                    check_service_state(device_id, unit.decommissioned_at, device_id in decommissioned)
                    updated += 1
                try:
                    apply_unit(session, unit, data.model_dump(), models)
                except InvalidInput as exc:
                    raise InvalidInput(exc.field, f"unit {device_id!r}: {exc.problem}") from None
                if not new and not session.is_modified(unit):
                    unchanged += 1
                if progress is not None and (done % 1000 == 0 or done == len(items)):
                    progress(done, len(items))
        return UpsertCounts(created, updated, unchanged)

    def _refuse_case_twins(self, session: Session, new_ids: list[str]) -> None:
        """:class:`InvalidInput` for the first of ``new_ids`` whose serial is registered, or given
        before, in another letter case."""
        if not new_ids:
            return
        taken = {key: ids[0] for key, ids in self._registered_by_key(session, new_ids).items()}
        for device_id in new_ids:
            twin = taken.setdefault(serial_key(device_id), device_id)
            if twin != device_id:
                raise InvalidInput("device_id", f"unit {device_id!r}: its serial is registered, or given before, as "
                                                f"{twin!r}; serial numbers are the same whatever their letter case")

    def get_unit(self, device_id: str) -> Unit | None:
        """The unit registered as ``device_id`` (exactly: :meth:`find_unit` takes any letter case)."""
        with self._session() as session:
            return session.get(Unit, device_id)

    def require_unit(self, device_id: str) -> Unit:
        """Like :meth:`get_unit` but raises :class:`NotFound` (naming the unit registered in another
        letter case, if one is)."""
        with self._session() as session:
            unit = session.get(Unit, device_id)
            if unit is None:
                raise self._not_found(session, device_id)
            return unit

    def list_units(self, filt: UnitFilter | None = None, **criteria: Any) -> list[Unit]:
        """Units matching ``filt`` or the same criteria as keywords (see :class:`UnitFilter`)."""
        filt = filt or UnitFilter(**criteria)
        with self._session() as session:
            return select_units(session, filt)

    def unit_ids(self, filt: UnitFilter | None = None, **criteria: Any) -> list[str]:
        """The device ids :meth:`list_units` would return, in its order (no unit is loaded)."""
        filt = filt or UnitFilter(**criteria)
        with self._session() as session:
            return select_unit_ids(session, filt)

    def units_by_id(self, device_ids: list[str]) -> list[Unit]:
        """These units, in the order given (ids of no unit are left out)."""
        if not device_ids:
            return []
        with self._session() as session:
            found = {u.device_id: u for u in session.scalars(select(Unit).where(Unit.device_id.in_(device_ids))).unique()}
        return [found[d] for d in device_ids if d in found]

    def count_units(self, filt: UnitFilter | None = None, **criteria: Any) -> int:
        filt = filt or UnitFilter(**criteria)
        with self._session() as session:
            return count_units(session, filt)

    def _unit_row(self, session: Session, device_id: str) -> Unit:
        unit = session.get(Unit, device_id)
        if unit is None:
            raise self._not_found(session, device_id)
        return unit

    # -- what the detectors need ---------------------------------------------------------------

    def machine_info(self, device_id: str) -> MachineInfo | None:
        """The detectors' view of the unit's model; None for an unknown unit or one without a model."""
        _, generation = self._fresh_known()
        with self._lock:
            if device_id in self._info:
                return self._info[device_id]
        with self._session() as session:
            unit = session.get(Unit, device_id)
            info = to_machine_info(unit.model) if unit is not None and unit.model is not None else None
        with self._lock:
            if generation == self._generation:  # no change landed while we read
                self._info[device_id] = info
        return info

    def detector_config(self, device_id: str) -> dict[str, Any]:
        """The model's detector configuration overrides ({} when none or no model)."""
        unit = self.get_unit(device_id)
        return dict(unit.model.detector_config) if unit is not None and unit.model is not None else {}

