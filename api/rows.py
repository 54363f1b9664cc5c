"""Read other parts' tables without knowing their columns in advance.

The devices, alerts and ingest packages own their tables (``<package>/models.py``); the API reads
them for lists and detail pages and acts through their service objects. These helpers find a
mapped class by name and turn rows into JSON-ready dicts.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from api.errors import ServiceMissing

__all__ = ["get_one", "mapped", "page", "to_dict"]


def mapped(module: str, *names: str) -> type:
    """The first of ``names`` defined in ``module`` (e.g. ``mapped("alerts.models", "Ticket")``)."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise ServiceMissing(f"{module} (table {names[0]})") from None
        raise
    for name in names:
        cls = getattr(mod, name, None)
        if cls is not None:
            return cls
    raise ServiceMissing(f"table {names[0]} in {module}")


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def to_dict(obj: Any) -> dict[str, Any]:
    """Column values of an ORM object (relationships left out)."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return {k: _json(v) for k, v in obj.items()}
    if hasattr(obj, "to_dict") and not hasattr(obj, "__table__"):
        return {k: _json(v) for k, v in obj.to_dict().items()}
    mapper = inspect(obj).mapper
    return {attr.key: _json(getattr(obj, attr.key)) for attr in mapper.column_attrs}


def _columns(model: type) -> dict[str, Any]:
    return {attr.key: attr for attr in inspect(model).column_attrs}


def page(
    session: Session,
    model: type,
    *,
    filters: dict[str, Any] | None = None,
    limit: int = 50,
    offset: int = 0,
    order_by: tuple[str, ...] = ("id",),
    descending: bool = True,
) -> tuple[list[dict[str, Any]], int]:
    """One page of rows matching ``filters`` (column -> value or list of values; ``None`` = any)."""
    cols = _columns(model)
    stmt = select(model)
    for key, value in (filters or {}).items():
        if value is None or value == [] or key not in cols:
            continue
        col = getattr(model, key)
        stmt = stmt.where(col.in_(value) if isinstance(value, (list, tuple, set)) else col == value)
    count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = [getattr(model, c) for c in order_by if c in cols]
    if order:
        stmt = stmt.order_by(*[c.desc() if descending else c.asc() for c in order])
    rows = session.scalars(stmt.limit(limit).offset(offset)).all()
    return [to_dict(r) for r in rows], int(count)


def get_one(session: Session, model: type, key: str, value: Any, what: str) -> Any:
    cols = _columns(model)
    if key not in cols:
        raise ServiceMissing(f"column {key} of {model.__name__}")
    obj = session.scalar(select(model).where(getattr(model, key) == value))
    if obj is None:
        raise LookupError(f"no {what} {value!r}")
    return obj


def page_query(session: Session, stmt: Any, *, limit: int, offset: int) -> tuple[list[Any], int]:
    """Rows of ``stmt`` (a ``select``) for one page, and how many rows it matches in total."""
    count = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return list(session.execute(stmt.limit(limit).offset(offset)).all()), int(count)
