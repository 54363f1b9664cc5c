"""Test doubles: a settable clock, a registry with units, assessments."""

from __future__ import annotations

from detectors.types import Assessment

T0 = 1793577600.0  # 2026-11-02 00:00 UTC


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakeRegistry:
    """What AlertService uses of devices.registry.Registry: get_unit and silent_units."""

    def __init__(self, units: dict[str, dict] | None = None) -> None:
        self.units = units or {}
        self.silent: list[str] = []

    def get_unit(self, device_id: str):
        return self.units.get(device_id)

    def silent_units(self, now_ms: int) -> list:
        return [{"device_id": d} for d in self.silent]


def assess(state: str, ts: float, mode: str | None = "outer_race", **kw) -> Assessment:
    return Assessment(ts=ts, state=state, failure_mode=None if state == "healthy" else mode,
                      features={"rms_g": 0.4, "kurtosis": 5.1}, **kw)


def kinds(changes) -> list[str]:
    return [c.kind for c in changes]


def open_ticket_for(svc, dev: str, mode: str, t: float, key: str, state: str = "warning") -> str:
    """Open a ticket for ``dev`` with a ``state`` assessment naming ``mode`` at ``t``; its number."""
    svc.clock.t = t
    return next(c.ticket for c in svc.handle_assessment(dev, assess(state, t, mode), source_key=key)
                if c.kind == "ticket_opened")


def recover(svc, dev: str, t: float, key: str) -> None:
    """Healthy assessments of ``dev`` from ``t`` on, enough to clear its alert."""
    for i in range(svc.config.clear_after):
        svc.handle_assessment(dev, assess("healthy", t + i), source_key=f"{key}-h{i}")
