"""Tables owned by the API: bearer tokens.

A token is shown once at creation (``fs_<prefix>_<secret>``); only its SHA-256 is stored. The
prefix finds the row, the hash is compared in constant time. ``expires`` is ``None`` for a token
that never expires (every token created before expiry existed).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from foreshock.db import Base, utcnow

__all__ = ["ROLES", "ApiToken"]

# Ordered: each role can do everything the roles before it can.
ROLES = ("viewer", "service", "engineer", "admin")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
