"""The registry's tables: machine models and the units sold of them.

A :class:`MachineModel` carries what the detectors need to know about a kind of machine (rated
speed, bearing geometry, ISO 20816 group, zone limits), how often its units report, and
detector configuration overrides. A :class:`Unit` is one sold machine, identified by its serial
number, which is also its MQTT device id and its broker username; serial numbers are unique
whatever their letter case (one unit in service per ``lower(device_id)``, see :mod:`devices.serials`).
A unit's presence (online / offline, last seen) and its broker credential (a ``$7$`` PBKDF2-SHA512
hash, never the password) live on the unit row, and so does the latest request to relearn its detector
baseline (who asked, why, and whether the defect lines it shows now are accepted as its normal).

Times that come from devices are epoch milliseconds (``*_ms``, BigInteger), like the protocol;
times set by the platform are timezone-aware datetimes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, false, func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from foreshock.db import Base, utcnow

__all__ = ["MachineModel", "Unit", "PRESENCE_STATES"]

PRESENCE_STATES = ("unknown", "online", "offline")


class MachineModel(Base):
    __tablename__ = "device_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    rated_rpm: Mapped[float | None] = mapped_column(Float)
    bearing_n_balls: Mapped[int | None] = mapped_column(Integer)
    bearing_ball_d: Mapped[float | None] = mapped_column(Float)
    bearing_pitch_d: Mapped[float | None] = mapped_column(Float)
    bearing_contact_deg: Mapped[float | None] = mapped_column(Float)
    iso_group: Mapped[int] = mapped_column(Integer, default=2, nullable=False)
    foundation: Mapped[str] = mapped_column(String(16), default="rigid", nullable=False)
    zone_limits_mm_s: Mapped[list[float] | None] = mapped_column(JSON)
    sensors: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    reporting_interval_s: Mapped[float] = mapped_column(Float, default=60.0, nullable=False)
    detector_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )

    @property
    def bearing(self) -> dict[str, float | None] | None:
        if self.bearing_n_balls is None:
            return None
        return {
            "n_balls": self.bearing_n_balls,
            "ball_d": self.bearing_ball_d,
            "pitch_d": self.bearing_pitch_d,
            "contact_deg": self.bearing_contact_deg or 0.0,
        }

    def __repr__(self) -> str:
        return f"MachineModel(name={self.name!r}, rated_rpm={self.rated_rpm!r})"


class Unit(Base):
    __tablename__ = "device_units"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("device_models.id", ondelete="RESTRICT"), index=True)
    customer: Mapped[str | None] = mapped_column(String(200), index=True)
    site: Mapped[str | None] = mapped_column(String(200))
    install_date: Mapped[date | None] = mapped_column(Date)
    firmware: Mapped[str | None] = mapped_column(String(64))
    warranty_end: Mapped[date | None] = mapped_column(Date)
    batch: Mapped[str | None] = mapped_column(String(64), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    auto_registered: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    decommissioned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Broker credential: the Mosquitto $7$ hash only; the password is shown once at provisioning.
    mqtt_password_hash: Mapped[str | None] = mapped_column(String(255))
    provisioned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Presence, from the status topic (and its last will) and from every message seen.
    presence: Mapped[str] = mapped_column(String(16), default="unknown", nullable=False)
    presence_ts_ms: Mapped[int | None] = mapped_column(BigInteger)
    # True when the broker's last will (no device timestamp; stamped with the platform clock) set it.
    presence_by_will: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    last_seen_ms: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # The latest request to relearn the unit's detector baseline (``foreshock devices relearn``, the API): the
    # detection stage applies a request newer than the one its saved state last applied (migration d1a3_relearn).
    relearn_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    relearn_accept: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    relearn_by: Mapped[str | None] = mapped_column(String(200))
    relearn_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )

    model: Mapped[MachineModel | None] = relationship(lazy="joined")

    @property
    def model_name(self) -> str | None:
        return self.model.name if self.model is not None else None

    @property
    def active(self) -> bool:
        return self.decommissioned_at is None

    @property
    def provisioned(self) -> bool:
        return self.mqtt_password_hash is not None

    def __repr__(self) -> str:
        return f"Unit(device_id={self.device_id!r}, model={self.model_name!r}, customer={self.customer!r})"


# One unit in service per serial number whatever its letter case ("P-0002" and "p-0002" are one machine);
# decommissioned units keep their serial as it was (their history points at it). Migration d1a2_serial_case.
SERIAL_INDEX = "uq_device_units_serial_in_service"
Index(SERIAL_INDEX, func.lower(Unit.device_id), unique=True,
      sqlite_where=Unit.decommissioned_at.is_(None), postgresql_where=Unit.decommissioned_at.is_(None))
# Finding a unit by its serial in any case, decommissioned ones too (30 ms -> 1 ms with 100,000 units on SQLite).
Index("ix_device_units_serial_key", func.lower(Unit.device_id))
