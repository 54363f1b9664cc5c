"""The dead-letter store: every rejected message, with its reason, kept in the relational store.

>>> from foreshock.db import make_engine, migrate, session_factory
>>> engine = make_engine("sqlite://")
>>> migrate(engine)
>>> store = DeadLetterStore(session_factory(engine))
>>> store.add(reason="bad_json", topic="foreshock/v1/P-1/telemetry", payload=b"{oops", received_at=1.7e9,
...           device_id="P-1", detail="not valid UTF-8 JSON")
>>> rows, total = store.list(reason="bad_json")
>>> total, rows[0].payload, store.count_by_reason()
(1, b'{oops', {'bad_json': 1})
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from devices.protocol import Reason
from ingest.models import DeadLetter

__all__ = ["DeadLetterEntry", "DeadLetterStore", "NewDeadLetter"]

log = logging.getLogger(__name__)

_REASONS = {r.value for r in Reason}


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    reason: str
    topic: str
    payload: bytes
    received_at: float  # epoch seconds
    device_id: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DeadLetterEntry:
    id: int
    received_at: datetime
    reason: str
    topic: str
    device_id: str | None
    detail: str
    payload: bytes  # truncated to the store's payload_bytes
    payload_size: int  # the original size

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat(),
            "reason": self.reason,
            "topic": self.topic,
            "device_id": self.device_id,
            "detail": self.detail,
            "payload": self.payload.decode("utf-8", "replace"),
            "payload_size": self.payload_size,
        }


class DeadLetterStore:
    """Rejected messages in table ``ingest_dead_letters``; payloads truncated to ``payload_bytes``."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, payload_bytes: int = 4096, retention_d: float = 0.0
    ) -> None:
        if payload_bytes < 0:
            raise ValueError(f"payload_bytes must be >= 0, got {payload_bytes}")
        if retention_d < 0:
            raise ValueError(f"retention_d must be >= 0, got {retention_d}")
        self._sessions = session_factory
        self.payload_bytes = payload_bytes
        self.retention_d = retention_d  # 0: kept for ever
        self._clock_ahead_said = False  # prune's warning of a clock that jumped forward
        self._clock0: tuple[float, float] | None = None  # (wall, monotonic) at the first prune

    @classmethod
    def from_settings(cls, session_factory: sessionmaker[Session], settings: Any) -> DeadLetterStore:
        """With ``ingest.dead_letter_payload_bytes`` and ``ingest.dead_letter_retention_d`` from the settings."""
        return cls(session_factory, payload_bytes=settings.ingest.dead_letter_payload_bytes,
                   retention_d=settings.ingest.dead_letter_retention_d)

    def prune(self, now: datetime | None = None, chunk: int = 10_000) -> int:
        """Delete dead letters older than ``retention_d`` days (none when it is 0); returns how many.

        Without it the table only grew: one unit sending a bad message a second adds 86,400 rows
        (with up to ``payload_bytes`` each) a day. Deletes in chunks of ``chunk`` rows, one
        transaction each, so a long backlog does not hold one huge transaction.

        ``now`` defaults to the wall clock, but not past where it would be without a forward jump while
        the service runs (the wall clock at the first prune plus monotonic time since): a server clock
        stepping 60 days forward (an NTP step, a restored VM) deleted every dead letter at once. Such a
        jump is said (a warning, once until it ends). A clock already ahead at the start is not caught.
        """
        if not self.retention_d:
            return 0
        now = now or self._now()
        cutoff = now - timedelta(days=self.retention_d)
        deleted = 0
        while True:
            with self._sessions() as session, session.begin():
                ids = select(DeadLetter.id).where(DeadLetter.received_at < cutoff).limit(chunk).scalar_subquery()
                n = session.execute(delete(DeadLetter).where(DeadLetter.id.in_(ids))).rowcount or 0
            deleted += n
            if n < chunk:
                break
        if deleted:
            log.info("%d dead letters older than %g days deleted", deleted, self.retention_d)
        return deleted

    def _now(self) -> datetime:
        """The wall clock, held back to where it would be without a forward jump of more than a day
        since the first prune."""
        wall, mono = time.time(), time.monotonic()
        if self._clock0 is None:
            self._clock0 = (wall, mono)
        held = self._clock0[0] + (mono - self._clock0[1])
        if wall - held <= 86_400.0:
            self._clock_ahead_said = False
            return datetime.fromtimestamp(wall, UTC)
        if not self._clock_ahead_said:
            log.warning("the server's clock jumped %.1f days forward while the service ran: dead letters are "
                        "pruned by the time it would show without that jump, until the service restarts; put the "
                        "clock right (timedatectl, NTP)", (wall - held) / 86_400)
            self._clock_ahead_said = True
        return datetime.fromtimestamp(held, UTC)

    def add(
        self,
        *,
        reason: str | Reason,
        topic: str,
        payload: bytes,
        received_at: float,
        device_id: str | None = None,
        detail: str = "",
    ) -> None:
        self.add_many([NewDeadLetter(_reason(reason), topic, payload, received_at, device_id, detail)])

    def add_many(self, letters: Iterable[NewDeadLetter]) -> int:
        """Store several dead letters in one transaction; returns how many."""
        rows = [
            DeadLetter(
                received_at=datetime.fromtimestamp(d.received_at, tz=UTC),
                reason=_reason(d.reason),
                topic=d.topic[:512],
                device_id=d.device_id[:64] if d.device_id else None,
                detail=d.detail[:2000],
                payload=bytes(d.payload[: self.payload_bytes]),
                payload_size=len(d.payload),
            )
            for d in letters
        ]
        if not rows:
            return 0
        with self._sessions() as session, session.begin():
            session.add_all(rows)
        return len(rows)

    def list(
        self, device: str | None = None, reason: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[DeadLetterEntry], int]:
        """The newest dead letters first, filtered by device and/or reason, and the total that match."""
        if not 1 <= limit <= 10_000:
            raise ValueError(f"limit must be in 1..10000, got {limit}")
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        if reason is not None:
            reason = _reason(reason)
        query = select(DeadLetter)
        count = select(func.count()).select_from(DeadLetter)
        if device is not None:
            query, count = query.where(DeadLetter.device_id == device), count.where(DeadLetter.device_id == device)
        if reason is not None:
            query, count = query.where(DeadLetter.reason == reason), count.where(DeadLetter.reason == reason)
        query = query.order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc()).limit(limit).offset(offset)
        with self._sessions() as session:
            total = session.scalar(count) or 0
            rows = [_entry(r) for r in session.scalars(query)]
        return rows, total

    def count_by_reason(self) -> dict[str, int]:
        with self._sessions() as session:
            result = session.execute(select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason))
            return {reason: n for reason, n in result}


def _reason(reason: str | Reason) -> str:
    value = reason.value if isinstance(reason, Reason) else str(reason)
    if value not in _REASONS:
        raise ValueError(f"unknown dead-letter reason {value!r}; expected one of {', '.join(sorted(_REASONS))}")
    return value


def _entry(row: DeadLetter) -> DeadLetterEntry:
    received = row.received_at
    if received.tzinfo is None:  # SQLite drops the offset
        received = received.replace(tzinfo=UTC)
    return DeadLetterEntry(
        row.id, received, row.reason, row.topic, row.device_id, row.detail, row.payload, row.payload_size
    )
