"""Serial numbers are the same whatever their letter case.

A serial typed in another case is the same machine: ``p-0002`` in an ERP's export, or typed by a
service technician, is unit ``P-0002``, not a second unit with a second credential and half the
history. So the registry

- refuses to register (add, import, auto-register) a serial that differs from a registered one only
  in letter case, naming the registered unit (:class:`~devices.errors.AlreadyExists`);
- finds a unit by its serial typed in any case (:meth:`SerialsMixin.find_unit`,
  :meth:`SerialsMixin.registered_serial`), and answers with the serial as registered;
- keeps each unit's serial as registered: it is also the unit's MQTT device id and broker username,
  which the broker compares exactly, so the unit keeps publishing under that spelling.

The database allows one unit *in service* per serial regardless of case (a unique index on
``lower(device_id)`` of the units in service, migration ``d1a2_serial_case``). A database that
already holds such units refuses that upgrade with :class:`SerialCaseDuplicates`, which names them
and the command that resolves them (take the wrong spelling out of service). Serials are ASCII (the
device protocol's ``[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}``), so ``lower`` means the same in Python,
SQLite and PostgreSQL.

>>> serial_key("P-0002") == serial_key("p-0002"), serial_key("P-0002") == serial_key("P-0003")
(True, False)
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.errors import AmbiguousSerial, NotFound
from devices.models import Unit
from foreshock.cli import CliError

__all__ = ["serial_key", "SerialsMixin", "SerialTwin", "SerialCaseDuplicates", "case_groups"]

log = logging.getLogger(__name__)

_CHUNK = 500  # ids per IN (...) list


def serial_key(serial: str) -> str:
    """The form in which two serial numbers are compared: the same for ``P-0002`` and ``p-0002``."""
    return serial.lower()


@dataclass(frozen=True)
class SerialTwin:
    """A unit in service in a group of units whose serials differ only in letter case (what the
    upgrade to ``d1a2_serial_case`` reports)."""

    device_id: str
    created_at: datetime | None
    provisioned: bool
    auto_registered: bool
    last_seen_ms: int | None

    def describe(self) -> str:
        created = f"registered {self.created_at:%Y-%m-%d}" if self.created_at is not None else "registered"
        seen = ("never seen" if self.last_seen_ms is None else "last seen "
                + datetime.fromtimestamp(self.last_seen_ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
        return (f"{self.device_id!r} ({created}{', auto-registered' if self.auto_registered else ''}, "
                f"{'provisioned' if self.provisioned else 'not provisioned'}, {seen})")

    def keep_rank(self) -> tuple:
        """Sorts the spelling to keep first: the provisioned one (its credential is in the unit), then
        the one seen last (the spelling the unit publishes under), then the one registered first."""
        created = self.created_at.timestamp() if self.created_at is not None else float("inf")
        return (not self.provisioned, -(self.last_seen_ms or -1), created, self.device_id)


def case_groups(twins: Iterable[SerialTwin]) -> list[list[SerialTwin]]:
    """``twins`` grouped by serial key, groups of one left out; each group sorted spelling-to-keep first."""
    groups: dict[str, list[SerialTwin]] = defaultdict(list)
    for twin in twins:
        groups[serial_key(twin.device_id)].append(twin)
    return [sorted(g, key=SerialTwin.keep_rank) for _, g in sorted(groups.items()) if len(g) > 1]


class SerialCaseDuplicates(CliError):
    """The database holds units in service whose serials differ only in letter case; the upgrade
    that allows one unit in service per serial was not applied. A :class:`foreshock.cli.CliError`:
    every command migrates the database first, and this is a message for the operator (what to do),
    not a traceback."""

    def __init__(self, groups: Sequence[Sequence[SerialTwin]]) -> None:
        self.groups = [list(g) for g in groups]
        shown = self.groups[:20]
        lines = ["  " + " and ".join(t.describe() for t in g) for g in shown]
        if len(self.groups) > len(shown):
            lines.append(f"  ... and {len(self.groups) - len(shown)} more (foreshock devices list shows them all)")
        commands = " ".join(t.device_id for g in shown for t in g[1:])
        super().__init__(
            f"the database holds {len(self.groups)} group(s) of units in service whose serial numbers differ only "
            "in letter case, which Foreshock takes for one serial (the same machine registered twice):\n"
            + "\n".join(lines) + "\n"
            "The database upgrade d1a2_serial_case, which allows one unit in service per serial, was not applied; "
            "nothing was changed. For each group, take the spellings that are not the machine's own (its broker "
            "username and topics use its own) out of service; their records and history stay under their "
            "spelling and their broker credentials are revoked. Suggested (the provisioned spelling, else the "
            "one seen last, is kept; check before running it):\n"
            f"  foreshock devices decommission {commands}\n"
            "then run `foreshock db upgrade` again (the `foreshock devices` commands work meanwhile).",
            exit_code=1,
        )


class SerialsMixin:
    """Serial-number methods of :class:`devices.registry.Registry`."""

    def _session(self, write: bool = False) -> AbstractContextManager[Session]:  # pragma: no cover - abstract
        raise NotImplementedError

    _lock: threading.Lock
    _case_warned: set[str]

    @staticmethod
    def _same_serial(serial: str):
        return func.lower(Unit.device_id) == func.lower(serial)

    @classmethod
    def _case_twins(cls, session: Session, serial: str, *, in_service: bool = False) -> list[Unit]:
        """Units whose serial is ``serial`` but for letter case, other than ``serial`` itself."""
        stmt = select(Unit).where(cls._same_serial(serial), Unit.device_id != serial)
        if in_service:
            stmt = stmt.where(Unit.decommissioned_at.is_(None))
        return list(session.scalars(stmt.order_by(Unit.device_id)).unique())

    @staticmethod
    def _registered_by_key(session: Session, serials: Iterable[str]) -> dict[str, list[str]]:
        """``{serial key: registered serials with it, sorted}`` for the keys of ``serials`` (index
        ``ix_device_units_serial_key``; keys of no unit are left out)."""
        keys = sorted({serial_key(s) for s in serials})
        out: dict[str, list[str]] = defaultdict(list)
        for i in range(0, len(keys), _CHUNK):
            stmt = select(Unit.device_id).where(func.lower(Unit.device_id).in_(keys[i : i + _CHUNK]))
            for d in session.scalars(stmt):
                out[serial_key(d)].append(d)
        return {k: sorted(v) for k, v in out.items()}

    @classmethod
    def _find_row(cls, session: Session, serial: str) -> Unit | None:
        unit = session.get(Unit, serial)
        if unit is not None:
            return unit
        twins = cls._case_twins(session, serial)
        if len(twins) > 1:
            raise AmbiguousSerial(
                f"serial {serial!r} matches units {', '.join(repr(u.device_id) for u in twins)}, whose serials "
                "differ only in letter case; give the serial exactly as registered (foreshock devices list)")
        return twins[0] if twins else None

    @classmethod
    def _not_found(cls, session: Session, device_id: str) -> NotFound:
        """``no unit 'p-0002' is registered``, naming the unit registered under it in another case."""
        twins = cls._case_twins(session, device_id)
        hint = (f" (its serial is registered as {twins[0].device_id!r}: give it as registered)" if len(twins) == 1
                else f" (units {', '.join(repr(u.device_id) for u in twins)} differ from it only in letter case)"
                if twins else "")
        return NotFound(f"no unit {device_id!r} is registered{hint}")

    def find_unit(self, serial: str) -> Unit | None:
        """The unit with serial number ``serial`` typed in any letter case (``p-0002`` finds ``P-0002``);
        its ``device_id`` is the serial as registered. None if there is none. A unit registered with
        exactly this spelling comes first; when only other spellings match and more than one
        (which only a database from before serials were compared regardless of case can hold),
        :class:`~devices.errors.AmbiguousSerial` asks for the exact spelling."""
        with self._session() as session:
            return self._find_row(session, serial)

    def registered_serial(self, serial: str) -> str:
        """The serial as registered of the unit ``serial`` names in any letter case, else :class:`NotFound`."""
        unit = self.find_unit(serial)
        if unit is None:
            raise NotFound(f"no unit {serial!r} is registered")
        return unit.device_id

    def registered_serials(self, serials: Sequence[str]) -> dict[str, str]:
        """``{serial as given: serial as registered}`` for those of ``serials`` that name a unit in any
        letter case (the others are left out); :class:`AmbiguousSerial` as :meth:`find_unit`."""
        with self._session() as session:
            by_key = self._registered_by_key(session, serials)
        found: dict[str, str] = {}
        for serial in serials:
            matches = by_key.get(serial_key(serial), [])
            if serial in matches:
                found[serial] = serial
            elif len(matches) > 1:
                raise AmbiguousSerial(
                    f"serial {serial!r} matches units {', '.join(map(repr, matches))}, whose serials differ only "
                    "in letter case; give the serial exactly as registered (foreshock devices list)")
            elif matches:
                found[serial] = matches[0]
        return found

    def case_twins(self, device_ids: Sequence[str]) -> dict[str, str]:
        """``{id: registered serial}`` for each of ``device_ids`` not registered itself whose serial is
        registered in another letter case (the first such unit, by serial): what an import refuses."""
        with self._session() as session:
            by_key = self._registered_by_key(session, device_ids)
        out: dict[str, str] = {}
        for d in device_ids:
            matches = by_key.get(serial_key(d), [])
            if matches and d not in matches:
                out[d] = matches[0]
        return out

    def serial_case_duplicates(self) -> list[list[SerialTwin]]:
        """The groups of units in service whose serials differ only in letter case (a database from
        before the upgrade ``d1a2_serial_case``; none after it), each sorted spelling-to-keep first."""
        key = func.lower(Unit.device_id)
        in_service = Unit.decommissioned_at.is_(None)
        dup_keys = select(key).where(in_service).group_by(key).having(func.count() > 1)
        stmt = (select(Unit.device_id, Unit.created_at, Unit.mqtt_password_hash.is_not(None), Unit.auto_registered,
                       Unit.last_seen_ms)
                .where(in_service, key.in_(dup_keys)))
        with self._session() as session:
            rows = session.execute(stmt).all()
        return case_groups(SerialTwin(d, created, bool(prov), bool(auto), seen)
                           for d, created, prov, auto, seen in rows)

    def _warn_case_twin_once(self, device_id: str, registered: str) -> None:
        """Log, once per id and process, that a device publishes under another spelling of a registered serial."""
        with self._lock:
            if device_id in self._case_warned:
                return
            if len(self._case_warned) >= 10_000:
                self._case_warned.clear()
            self._case_warned.add(device_id)
        log.warning("device %s is not auto-registered: its serial is registered as %s (serial numbers are the "
                    "same whatever their letter case); the unit must publish under its registered spelling, "
                    "which its broker username and topics use", device_id, registered)
