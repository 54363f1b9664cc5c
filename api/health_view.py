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


def latest_health(session: Session, device_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """device id -> {state, ts, failure_mode, ttf_s, ttf_low_s, ttf_high_s, reasons, features, ...}."""
    try:
        from foreshock.models import DetectorState
    except ImportError:  # pragma: no cover - the core always has it
        return {}
    # the columns shown, not the saved detector state itself (several KB per unit)
    stmt = select(DetectorState.device_id, DetectorState.health, DetectorState.assessment_json,
                  DetectorState.updated_at)
    wanted = None if device_ids is None else set(device_ids)
    if wanted is not None:
        if not wanted:
            return {}
        if len(wanted) <= 500:  # larger fleets: read every row rather than bind thousands of parameters
            stmt = stmt.where(DetectorState.device_id.in_(wanted))
    out: dict[str, dict[str, Any]] = {}
    for row in session.execute(stmt):
        if wanted is not None and row.device_id not in wanted:
            continue
        item: dict[str, Any] = {"state": row.health or "unknown"}
        if row.assessment_json:
            try:
                a = json.loads(row.assessment_json)
            except ValueError:
                log.warning("unreadable assessment of %s", row.device_id)
                a = {}
            a = a.get("assessment", a) if isinstance(a, dict) else {}
            item.update({k: a.get(k) for k in _KEYS if k in a})
            item["features"] = a.get("features") or {}
            item["evidence"] = a.get("evidence") or []
        updated = row.updated_at
        if updated is not None and updated.tzinfo is None:  # SQLite keeps no offset; the value is UTC
            updated = updated.replace(tzinfo=UTC)
        item["updated_at"] = updated.isoformat() if updated else None
        out[row.device_id] = item
    return out


def health_index(session: Session, device_ids: list[str], *, with_ttf: bool = False
                 ) -> dict[str, tuple[str, float | None]]:
    """device id -> (state, time to failure or None) for many units at once: what the fleet list
    filters and sorts on, without reading the assessments' other content (the time to failure is
    read only with ``with_ttf``, and only from assessments that carry one)."""
    from foreshock.models import DetectorState

    wanted = set(device_ids)
    if not wanted:
        return {}
    cols = [DetectorState.device_id, DetectorState.health]
    if with_ttf:
        cols.append(DetectorState.assessment_json)
    stmt = select(*cols)
    if len(wanted) <= 500:
        stmt = stmt.where(DetectorState.device_id.in_(wanted))
    out: dict[str, tuple[str, float | None]] = {}
    for row in session.execute(stmt):
        if row[0] not in wanted:
            continue
        ttf = None
        if with_ttf and row[2] and '"ttf_s"' in row[2]:
            try:
                a = json.loads(row[2])
            except ValueError:
                a = {}
            a = a.get("assessment", a) if isinstance(a, dict) else {}
            ttf = a.get("ttf_s") if isinstance(a, dict) else None
        out[row[0]] = (row[1] or "unknown", ttf)
    return out
