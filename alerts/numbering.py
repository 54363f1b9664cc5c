"""Ticket numbers: ``PF`` + ``YYYYMM`` + a sequence per month, at least three digits.

The sequence comes from one counter row per month, bumped with a single atomic
``INSERT ... ON CONFLICT DO UPDATE SET n = n + 1 RETURNING n`` (SQLite >= 3.35 and PostgreSQL
both support it), so two workers never get the same number; the unique constraint on
``tickets.number`` is the second line of defence.

>>> format_number("202611", 1)
'PF202611001'
>>> format_number("202611", 1234)
'PF2026111234'
>>> month_of(1793577600.0)   # 2026-11-02 UTC
'202611'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from alerts.models import TicketCounter

__all__ = ["format_number", "month_of", "next_number"]


def month_of(ts: float) -> str:
    """``YYYYMM`` of an epoch-seconds timestamp, in UTC."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m")


def format_number(month: str, seq: int) -> str:
    if len(month) != 6 or not month.isdigit():
        raise ValueError(f"month must be YYYYMM, got {month!r}")
    if seq < 1:
        raise ValueError(f"sequence must be positive, got {seq}")
    return f"PF{month}{seq:03d}"


def next_number(session: Session, ts: float) -> str:
    """The next ticket number for the month of ``ts``; runs in (and locks within) the session's transaction."""
    month = month_of(ts)
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = pg_insert(TicketCounter).values(month=month, n=1)
    elif dialect == "sqlite":
        stmt = sqlite_insert(TicketCounter).values(month=month, n=1)
    else:  # pragma: no cover - only the two supported backends
        raise ValueError(f"ticket numbering supports sqlite and postgresql, not {dialect}")
    stmt = stmt.on_conflict_do_update(index_elements=[TicketCounter.month], set_={"n": TicketCounter.n + 1})
    seq = session.execute(stmt.returning(TicketCounter.n)).scalar_one()
    return format_number(month, seq)


