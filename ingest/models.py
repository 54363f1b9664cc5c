"""Ingest's table: dead letters (messages rejected with a reason), on :class:`foreshock.db.Base`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from foreshock.db import Base

__all__ = ["DeadLetter"]


class DeadLetter(Base):
    __tablename__ = "ingest_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    topic: Mapped[str] = mapped_column(String(512), nullable=False)
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    payload: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    payload_size: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        Index("ix_ingest_dead_letters_device_received", "device_id", "received_at"),
        Index("ix_ingest_dead_letters_reason_received", "reason", "received_at"),
    )
