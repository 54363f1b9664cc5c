"""Selecting units: by model, customer, site, batch, firmware, tag, presence and serial range.

Serial ranges compare the numeric tail of serial numbers that share a prefix, so a corrective
action on "P-0098 to P-0120" (or "P-98 to P-120") finds the same units:

>>> parse_serial("P-0098")
('P-', 98)
>>> in_serial_range("P-0100", "P-0098", "P-0120"), in_serial_range("Q-0100", "P-0098", "P-0120")
(True, False)
>>> in_serial_range("P-120", "P-98", "P-0120")
True

Serial numbers are the same whatever their letter case (:mod:`devices.serials`), in ranges too:

>>> in_serial_range("p-0100", "P-0098", "P-0120")
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from devices.errors import InvalidInput
from devices.models import PRESENCE_STATES, MachineModel, Unit
from devices.serials import serial_key

__all__ = ["UnitFilter", "parse_serial", "in_serial_range", "select_units", "select_unit_ids", "count_units"]

_SERIAL = re.compile(r"(.*?)(\d+)")


def parse_serial(serial: str) -> tuple[str, int] | None:
    """``(prefix, number)`` of a serial ending in digits, else None."""
    m = _SERIAL.fullmatch(serial)
    return (m.group(1), int(m.group(2))) if m else None


def in_serial_range(serial: str, first: str, last: str) -> bool:
    """Whether ``serial`` lies in ``first..last`` (inclusive; same prefix, numeric comparison)."""
    lo, hi, me = parse_serial(first), parse_serial(last), parse_serial(serial)
    if lo is None or hi is None:
        return serial_key(first) <= serial_key(serial) <= serial_key(last)
    return me is not None and serial_key(me[0]) == serial_key(lo[0]) and lo[1] <= me[1] <= hi[1]


@dataclass(frozen=True)
class UnitFilter:
    """Criteria for :meth:`devices.registry.Registry.list_units`; ``None`` means any."""

    model: str | None = None
    customer: str | None = None
    site: str | None = None
    batch: str | None = None
    firmware: str | None = None
    tag: str | None = None
    presence: str | None = None
    auto_registered: bool | None = None
    provisioned: bool | None = None
    include_decommissioned: bool = False
    serial_from: str | None = None
    serial_to: str | None = None
    limit: int | None = None
    offset: int = 0

    def __post_init__(self) -> None:
        if self.presence is not None and self.presence not in PRESENCE_STATES:
            raise InvalidInput("presence", f"expected one of {', '.join(PRESENCE_STATES)}, got {self.presence!r}")
        if (self.serial_from is None) != (self.serial_to is None):
            raise InvalidInput("serial_from", "a serial range needs both serial_from and serial_to")
        if self.serial_from is not None and self.serial_to is not None:
            lo, hi = parse_serial(self.serial_from), parse_serial(self.serial_to)
            if (lo is None) != (hi is None) or (lo and hi and serial_key(lo[0]) != serial_key(hi[0])):
                raise InvalidInput(
                    "serial_to", f"{self.serial_from!r} and {self.serial_to!r} do not share a prefix and numeric tail"
                )
        if self.limit is not None and self.limit < 0:
            raise InvalidInput("limit", f"must be >= 0, got {self.limit}")
        if self.offset < 0:
            raise InvalidInput("offset", f"must be >= 0, got {self.offset}")

    @property
    def needs_python(self) -> bool:
        """Whether some criteria are checked after the SQL query (tags in JSON, numeric serials)."""
        return self.tag is not None or self.serial_from is not None


def _statement(filt: UnitFilter) -> Select:
    stmt = select(Unit)
    if filt.model is not None:
        stmt = stmt.join(MachineModel, Unit.model_id == MachineModel.id).where(MachineModel.name == filt.model)
    for column, value in (
        (Unit.customer, filt.customer),
        (Unit.site, filt.site),
        (Unit.batch, filt.batch),
        (Unit.firmware, filt.firmware),
        (Unit.presence, filt.presence),
        (Unit.auto_registered, filt.auto_registered),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if filt.provisioned is not None:
        cond = Unit.mqtt_password_hash.is_not(None) if filt.provisioned else Unit.mqtt_password_hash.is_(None)
        stmt = stmt.where(cond)
    if not filt.include_decommissioned:
        stmt = stmt.where(Unit.decommissioned_at.is_(None))
    if filt.serial_from is not None:
        parsed = parse_serial(filt.serial_from)
        if parsed is not None:
            prefix = serial_key(parsed[0]).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(func.lower(Unit.device_id).like(prefix + "%", escape="\\"))
        else:
            stmt = stmt.where(func.lower(Unit.device_id).between(serial_key(filt.serial_from),
                                                                 serial_key(filt.serial_to)))
    return stmt.order_by(Unit.device_id)


def _python_match(unit: Unit, filt: UnitFilter) -> bool:
    if filt.tag is not None and filt.tag not in (unit.tags or []):
        return False
    if filt.serial_from is not None and filt.serial_to is not None:
        return in_serial_range(unit.device_id, filt.serial_from, filt.serial_to)
    return True


def select_units(session: Session, filt: UnitFilter) -> list[Unit]:
    stmt = _statement(filt)
    if not filt.needs_python:
        if filt.offset:
            stmt = stmt.offset(filt.offset)
        if filt.limit is not None:
            stmt = stmt.limit(filt.limit)
        return list(session.scalars(stmt).unique())
    units = [u for u in session.scalars(stmt).unique() if _python_match(u, filt)]
    end = None if filt.limit is None else filt.offset + filt.limit
    return units[filt.offset : end]


def select_unit_ids(session: Session, filt: UnitFilter) -> list[str]:
    """The device ids :func:`select_units` would return, in the same order, without loading the units."""
    if filt.needs_python:
        return [u.device_id for u in select_units(session, filt)]
    stmt = _statement(filt).with_only_columns(Unit.device_id)
    if filt.offset:
        stmt = stmt.offset(filt.offset)
    if filt.limit is not None:
        stmt = stmt.limit(filt.limit)
    return list(session.scalars(stmt))


def count_units(session: Session, filt: UnitFilter) -> int:
    if filt.needs_python:
        return len(select_units(session, UnitFilter(**{**filt.__dict__, "limit": None, "offset": 0})))
    sub = _statement(filt).order_by(None).with_only_columns(Unit.device_id).subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)
