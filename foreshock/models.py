"""Tables owned by the core: per-unit detector state (so a restart does not relearn baselines)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from foreshock.db import Base, utcnow

__all__ = ["DetectorState"]


class DetectorState(Base):
    __tablename__ = "detector_state"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state_json: Mapped[str] = mapped_column(Text, nullable=False)
    health: Mapped[str] = mapped_column(String(16), nullable=False, default="unknown")
    assessment_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # the latest Assessment
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
