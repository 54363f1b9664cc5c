"""Corrective actions: recorded with their scope and date, then verified against the failure data.

A corrective action (a new bearing supplier from a serial range, a firmware update, ...) applies to
the units matching its ``scope`` (``model``, ``batch``, ``firmware``, ``serial_from``/``serial_to``,
as in :class:`devices.query.UnitFilter`) from ``applied_at``. :func:`verify_action` counts failures
(unit tickets of the action's failure modes, proactive or customer-reported, minus those judged false
alarms, each under the failure mode found on site when the technician named another) and unit-days (from each unit's install date, or its registration when it has none, to its decommissioning) for the units in
scope and outside it, in the ``baseline_d`` days before the action and from the action to now, and
asks :func:`alerts.ratestats.compare_rates` for the verdict. The verdict is stored on the action and,
when the action belongs to a ticket, written into that ticket's 8D record (D6 verification, D7
statement).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.models import CorrectiveAction, Ticket
from alerts.ratestats import compare_rates
from alerts.tickets import TicketError, failure_mode_name, found_failure_mode, iso, set_8d
from detectors.types import FAILURE_MODES

__all__ = ["SCOPE_KEYS", "action_dict", "create_action", "scope_text", "unit_days", "verify_action"]

log = logging.getLogger(__name__)
SCOPE_KEYS = ("model", "batch", "firmware", "serial_from", "serial_to")
# the failure modes tickets carry: the detectors' names, and that of a complaint nobody classified
ACTION_MODES = (*FAILURE_MODES, "customer_reported")
DAY = 86400.0


def _check_scope(scope: dict[str, Any]) -> dict[str, str]:
    bad = sorted(set(scope) - set(SCOPE_KEYS))
    if bad:
        raise ValueError(f"unknown scope field(s) {', '.join(bad)} (expected {', '.join(SCOPE_KEYS)})")
    clean = {k: str(v).strip() for k, v in scope.items() if v is not None and str(v).strip()}
    if not clean:
        raise ValueError("a corrective action needs a scope: model, batch, firmware or serial_from/serial_to")
    if ("serial_from" in clean) != ("serial_to" in clean):
        raise ValueError("a serial range needs both serial_from and serial_to")
    if "serial_from" in clean:
        _check_serial_range(clean["serial_from"], clean["serial_to"])
    return clean


def _check_serial_range(first: str, last: str) -> None:
    """Refuse now a range no unit can fall in: it was accepted and failed only at verification."""
    from devices.query import UnitFilter, parse_serial

    UnitFilter(serial_from=first, serial_to=last)  # the range the verification selects with: same prefix
    lo, hi = parse_serial(first), parse_serial(last)
    backwards = lo[1] > hi[1] if lo and hi else first > last  # numeric tails, else the serials as text
    if backwards:
        raise ValueError(f"serial_from {first!r} comes after serial_to {last!r}: a serial range goes from "
                         "its lowest serial (serial_from) to its highest (serial_to)")


def scope_text(scope: dict[str, Any]) -> str:
    """A scope as people write it.

    >>> scope_text({"model": "P-200", "serial_from": "P-0001", "serial_to": "P-0009"})
    'model P-200, serials P-0001 to P-0009'
    """
    parts = [f"{k} {scope[k]}" for k in ("model", "batch", "firmware") if scope.get(k)]
    if scope.get("serial_from"):
        parts.append(f"serials {scope['serial_from']} to {scope.get('serial_to')}")
    return ", ".join(parts) or "none"


def action_dict(a: CorrectiveAction, ticket_number: str | None = None) -> dict[str, Any]:
    return {"id": a.id, "title": a.title, "description": a.description, "scope": a.scope,
            "failure_modes": a.failure_modes, "applied_at": iso(a.applied_at), "baseline_d": a.baseline_d,
            "target_ratio": a.target_ratio, "ticket": ticket_number, "created_by": a.created_by,
            "created_at": iso(a.created_at), "verdict": a.verdict, "verified_at": iso(a.verified_at)}


def create_action(
    session: Session, *, title: str, scope: dict[str, Any], applied_at: float, now: float, actor: str,
    failure_modes: list[str] | None = None, description: str = "", baseline_d: float = 90.0,
    target_ratio: float = 0.7, ticket: Ticket | None = None,
) -> CorrectiveAction:
    if not title.strip():
        raise ValueError("a corrective action needs a title")
    if not baseline_d > 0:
        raise ValueError(f"baseline_d must be a positive number of days, got {baseline_d!r}")
    if not 0 < target_ratio < 1:
        raise ValueError(f"target_ratio must be in (0, 1), got {target_ratio!r}")
    if not 0 <= applied_at < 32503680000:  # 1970-01-01 .. 3000-01-01: before it no baseline can be counted
        raise ValueError(f"applied_at: {applied_at!r} s is out of range: expected a time between 1970-01-01 "
                         "and 3000-01-01")
    if applied_at > now + DAY:
        raise ValueError(f"applied_at {iso(applied_at)} lies in the future")
    try:
        modes = sorted({failure_mode_name(m, names=ACTION_MODES) for m in failure_modes or [] if m and m.strip()})
    except TicketError as exc:
        raise ValueError(str(exc)) from None  # bad input (400), not a conflict with the ticket's state
    a = CorrectiveAction(title=title.strip()[:300], description=description, scope=_check_scope(scope),
                         failure_modes=modes, applied_at=float(applied_at), baseline_d=float(baseline_d),
                         target_ratio=float(target_ratio), ticket_id=ticket.id if ticket else None,
                         created_by=actor, created_at=now)
    session.add(a)
    session.flush()
    return a


def _ts(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    return float(value)


def unit_days(installed: float | None, removed: float | None, start: float, end: float) -> float:
    """Days of ``[start, end)`` the unit was in service (an unknown install date counts from ``start``).

    >>> unit_days(None, None, 0.0, 10 * 86400.0), unit_days(5 * 86400.0, 8 * 86400.0, 0.0, 10 * 86400.0)
    (10.0, 3.0)
    """
    lo = max(start, installed if installed is not None else start)
    hi = min(end, removed if removed is not None else end)
    return max(0.0, hi - lo) / DAY


def _in_service(u: Any) -> float | None:
    """When ``u`` entered service: its install date, else its registration (it ran no day before it was known;
    counting it from the start of the baseline gave units one day old a whole baseline of failure-free days)."""
    installed = _ts(u.install_date)
    return installed if installed is not None else _ts(getattr(u, "created_at", None))


def _units(registry: Any, scope: dict[str, Any]) -> tuple[dict[str, tuple[float | None, float | None]], set[str],
                                                         dict[str, float | None]]:
    """Every registered unit's service span, the ids in ``scope``, and each unit's last report (epoch s)."""
    from devices.query import UnitFilter

    if registry is None or not hasattr(registry, "list_units"):
        raise ValueError("verifying a corrective action needs the devices registry (unit install dates)")
    units = registry.list_units(UnitFilter(include_decommissioned=True))
    every = {u.device_id: (_in_service(u), _ts(u.decommissioned_at)) for u in units}
    seen = {u.device_id: (None if getattr(u, "last_seen_ms", None) is None else u.last_seen_ms / 1000.0)
            for u in units}
    in_scope = {u.device_id for u in registry.list_units(UnitFilter(include_decommissioned=True, **scope))}
    return every, in_scope, seen


def _unheard(every: dict[str, tuple[float | None, float | None]], units: set[str], seen: dict[str, float | None],
             t0: float, now: float) -> list[str]:
    """The units of ``units`` in service after ``t0`` that have sent nothing since: Foreshock cannot have
    warned of their failures, so they add unit-days without the failures they may have had."""
    return sorted(d for d in units if unit_days(*every[d], t0, max(t0, now)) > 0
                  and (seen.get(d) is None or seen[d] < t0))


def verify_action(session: Session, action: CorrectiveAction, *, registry: Any, now: float,
                  actor: str = "foreshock") -> dict[str, Any]:
    """Compute, store and return the verdict of ``action`` at time ``now``."""
    every, in_scope, seen = _units(registry, action.scope)
    scope = scope_text(action.scope)
    if not in_scope:  # not a 404: the action exists, its scope selects nothing
        raise ValueError(f"the scope of corrective action {action.id} ({scope}) matches no registered unit: "
                         "nothing to verify")
    if len(in_scope) == len(every):
        raise ValueError(f"every registered unit is in the scope of corrective action {action.id} ({scope}): "
                         "the verification compares the failure rates of units in scope with those of units outside "
                         "it, and there is none outside it; record the action with a narrower scope")
    t0 = action.applied_at
    gone = [d for d in in_scope if every[d][1] is not None and every[d][1] <= t0]
    if len(gone) == len(in_scope):
        raise ValueError(f"every unit in the scope of corrective action {action.id} ({scope}) was decommissioned "
                         f"before the action was applied ({iso(t0)}): no unit ran with it, so there is nothing to "
                         "verify")
    windows = {"before": (t0 - action.baseline_d * DAY, t0), "after": (t0, max(t0, now))}
    exposure = {f"{w}_{side}": 0.0 for w in windows for side in ("in", "out")}
    for dev, (installed, removed) in every.items():
        side = "in" if dev in in_scope else "out"
        for w, (s, e) in windows.items():
            exposure[f"{w}_{side}"] += unit_days(installed, removed, s, e)
    q = select(Ticket).where(
        Ticket.kind == "unit", Ticket.device_id.is_not(None), Ticket.opened_at >= windows["before"][0],
        Ticket.opened_at < windows["after"][1])
    failures = dict.fromkeys(exposure, 0)
    for t in session.scalars(q):
        # the failure mode found on site (a false alarm is no failure; a different fault counts as that fault)
        mode = found_failure_mode(t)
        if t.device_id not in every or mode is None or (action.failure_modes and mode not in action.failure_modes):
            continue
        w = "before" if t.opened_at < t0 else "after"
        failures[f"{w}_{'in' if t.device_id in in_scope else 'out'}"] += 1
    cell = {k: (float(failures[k]), exposure[k]) for k in exposure}
    result = compare_rates(before_in=cell["before_in"], after_in=cell["after_in"], before_out=cell["before_out"],
                           after_out=cell["after_out"], target_ratio=action.target_ratio)
    verdict = {**result.as_dict(), "units_in_scope": len(in_scope), "units_out_of_scope": len(every) - len(in_scope),
               "before": [iso(windows["before"][0]), iso(t0)], "after": [iso(t0), iso(windows["after"][1])],
               "verified_at": iso(now)}
    if any(v is not None for v in seen.values()):  # the service hears from units: one that is silent is news
        unheard = _unheard(every, in_scope, seen, t0, now)
        verdict["units_in_scope_unheard"] = unheard
        verdict["units_out_of_scope_unheard"] = len(_unheard(every, set(every) - in_scope, seen, t0, now))
        if unheard:
            shown = ", ".join(unheard[:5]) + (f" and {len(unheard) - 5} more" if len(unheard) > 5 else "")
            verdict["statement"] += (
                f"; caution: {len(unheard)} of the {len(in_scope)} units in scope ({shown}) "
                f"{'has' if len(unheard) == 1 else 'have'} sent no data since the action, so Foreshock could not warn "
                f"of {'its' if len(unheard) == 1 else 'their'} failures and {'its' if len(unheard) == 1 else 'their'} "
                f"unit-days count as failure-free: check that {'it reports' if len(unheard) == 1 else 'they report'} "
                "before trusting this verdict")
    action.verdict, action.verified_at = verdict, now
    if action.ticket_id is not None:
        ticket = session.get(Ticket, action.ticket_id)
        if ticket is not None:
            _write_8d(session, ticket, action, verdict, actor=actor, now=now)
    log.info("corrective action %d (%s): %s", action.id, action.title, verdict["statement"])
    return verdict


def _write_8d(session: Session, ticket: Ticket, action: CorrectiveAction, verdict: dict[str, Any], *,
              actor: str, now: float) -> None:
    old = ticket.eight_d.get("D6")
    d6: dict[str, Any] = {**(old if isinstance(old, dict) else {}), "corrective_action": {"id": action.id, "title": action.title, "scope": action.scope,
                                      "applied_at": iso(action.applied_at)},
          "verification": {k: verdict[k] for k in ("verdict", "ratio", "ci_low", "ci_high", "confidence",
                                                    "p_value", "counts", "more_unit_days", "verified_at")}}
    set_8d(session, ticket, "D6", d6, actor=actor, now=now)
    set_8d(session, ticket, "D7", {"verdict": verdict["verdict"], "statement": verdict["statement"]},
           actor=actor, now=now)
