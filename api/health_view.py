"""Each unit's latest health, read from the detection stage's ``detector_state`` table.

The detection stage writes the latest :class:`detectors.types.Assessment` of every unit there (as
JSON, at every service tick: 30 s under ``foreshock run``, 5 s in the demo); the fleet overview and
the unit page read it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

__all__ = ["HEALTH_STATES", "health_index", "latest_health"]

log = logging.getLogger(__name__)
HEALTH_STATES = ("unknown", "healthy", "watch", "warning", "alarm")
_KEYS = ("ts", "failure_mode", "confidence", "ttf_s", "ttf_low_s", "ttf_high_s", "reasons", "sensor_fault")


def _rows(session: Session, columns: list[str], device_ids: list[str] | None):
    """``(device_id, *columns)`` rows of ``detector_state`` for these units (all with None)."""
    from foreshock.models import DetectorState

    stmt = select(DetectorState.device_id, *(getattr(DetectorState, c) for c in columns))
    wanted = None if device_ids is None else set(device_ids)
    if wanted is not None and len(wanted) <= 500:  # larger fleets: read every row rather than bind thousands
        stmt = stmt.where(DetectorState.device_id.in_(wanted))
    for row in session.execute(stmt) if wanted is None or wanted else ():
        if wanted is None or row[0] in wanted:
            yield row


def _assessment(text: str | None, device_id: str) -> dict[str, Any]:
    """The saved assessment's fields ({} when there is none or it cannot be read)."""
    if not text:
        return {}
    try:
        a = json.loads(text)
    except ValueError:
        log.warning("unreadable assessment of %s", device_id)
        return {}
    a = a.get("assessment", a) if isinstance(a, dict) else {}
    return a if isinstance(a, dict) else {}


def latest_health(session: Session, device_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """device id -> {state, ts, failure_mode, ttf_s, ttf_low_s, ttf_high_s, reasons, features, ...}."""
    out: dict[str, dict[str, Any]] = {}
    # the columns shown, not the saved detector state itself (several KB per unit)
    for device_id, health, text, updated in _rows(session, ["health", "assessment_json", "updated_at"], device_ids):
        item: dict[str, Any] = {"state": health or "unknown"}
        if text:
            a = _assessment(text, device_id)
            item.update({k: a.get(k) for k in _KEYS if k in a})
            item["features"] = a.get("features") or {}
            item["evidence"] = a.get("evidence") or []
        if updated is not None and updated.tzinfo is None:  # SQLite keeps no offset; the value is UTC
            updated = updated.replace(tzinfo=UTC)
        item["updated_at"] = updated.isoformat() if updated else None
        out[device_id] = item
    return out


def health_index(session: Session, device_ids: list[str], *, with_ttf: bool = False
                 ) -> dict[str, tuple[str, float | None]]:
    """device id -> (state, time to failure or None) for many units at once: what the fleet list
    filters and sorts on, without reading the assessments' other content (the time to failure is
    read only with ``with_ttf``, and only from assessments that carry one)."""
    out: dict[str, tuple[str, float | None]] = {}
    for row in _rows(session, ["health", "assessment_json"] if with_ttf else ["health"], device_ids):
        text = row[2] if with_ttf else None
        ttf = _assessment(text, row[0]).get("ttf_s") if text and '"ttf_s"' in text else None
        out[row[0]] = (row[1] or "unknown", ttf)
    return out
