"""Each unit's latest health, read from the detection stage's ``detector_state`` table.

The detection stage writes the latest :class:`detectors.types.Assessment` of every unit there (as
JSON, at every service tick: 30 s under ``foreshock run``, 5 s in the demo); the fleet overview and
the unit page read it.

An assessment's times to failure (``ttf_s``, ``ttf_low_s``, ``ttf_high_s``) count from the data it assessed
(``ts``), not from now: a unit that went silent 10 hours ago with "30 h left" has 20 h left. Each comes with its
absolute due time (``failure_due_at``, ``failure_due_low_at``, ``failure_due_high_at``: ``ts`` + the time, ISO
8601 in UTC), which a reader counts down from its own now.
"""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

__all__ = ["DUE_KEYS", "HEALTH_STATES", "due_at", "health_index", "latest_health"]

log = logging.getLogger(__name__)
HEALTH_STATES = ("unknown", "healthy", "watch", "warning", "alarm")
_KEYS = ("ts", "failure_mode", "confidence", "ttf_s", "ttf_low_s", "ttf_high_s", "reasons", "sensor_fault")
# each time to failure and the key of its due time
DUE_KEYS = {"ttf_s": "failure_due_at", "ttf_low_s": "failure_due_low_at", "ttf_high_s": "failure_due_high_at"}


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def due_at(ts: Any, ttf_s: Any) -> str | None:
    """When a time to failure estimated on data of ``ts`` (epoch seconds) runs out: ISO 8601 in UTC, to the
    second; None without both (or with one that is no finite number, or a date no calendar has).

    >>> due_at(1_800_000_000, 30 * 3600)
    '2027-01-16T14:00:00+00:00'
    >>> due_at(1_800_000_000, None), due_at(None, 3600.0), due_at(1e9, float("nan"))
    (None, None, None)
    """
    t, left = _number(ts), _number(ttf_s)
    if t is None or left is None:
        return None
    try:
        return datetime.fromtimestamp(t + left, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):  # beyond year 9999: no date to give
        return None


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
            item.update({due: due_at(a.get("ts"), a[ttf]) for ttf, due in DUE_KEYS.items() if ttf in a})
            item["features"] = a.get("features") or {}
            item["evidence"] = a.get("evidence") or []
        if updated is not None and updated.tzinfo is None:  # SQLite keeps no offset; the value is UTC
            updated = updated.replace(tzinfo=UTC)
        item["updated_at"] = updated.isoformat() if updated else None
        out[device_id] = item
    return out


def health_index(session: Session, device_ids: list[str], *, with_ttf: bool = False
                 ) -> dict[str, tuple[str, float | None]]:
    """device id -> (state, when the time to failure runs out, epoch seconds, or None) for many units at once:
    what the fleet list filters and sorts on, without reading the assessments' other content (the due time is
    read only with ``with_ttf``, and only from assessments that carry a time to failure). It is the assessed
    data's ``ts`` plus the time to failure: a unit assessed 10 h ago with 30 h left comes before one assessed
    now with 25 h left (an assessment without ``ts`` counts from now)."""
    out: dict[str, tuple[str, float | None]] = {}
    now = time.time()
    for row in _rows(session, ["health", "assessment_json"] if with_ttf else ["health"], device_ids):
        text = row[2] if with_ttf else None
        due = None
        if text and '"ttf_s"' in text:
            a = _assessment(text, row[0])
            ttf = _number(a.get("ttf_s"))
            if ttf is not None:
                ts = _number(a.get("ts"))
                due = (now if ts is None else ts) + ttf
        out[row[0]] = (row[1] or "unknown", due)
    return out
