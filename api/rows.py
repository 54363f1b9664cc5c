"""Paging helpers for ``select`` statements over any table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

__all__ = ["page_query"]


def page_query(session: Session, stmt: Any, *, limit: int, offset: int) -> tuple[list[Any], int]:
    """Rows of ``stmt`` (a ``select``) for one page, and how many rows it matches in total."""
    count = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return list(session.execute(stmt.limit(limit).offset(offset)).all()), int(count)
