"""Drive :class:`detectors.UnitMonitor` with a simulated fleet's messages, as the live pipeline does.

Each unit gets a monitor built from its model's machine data; telemetry records go to
``update_scalars`` and snapshots to ``update_snapshot`` in the order the fleet sends them. The
result per unit is the list of ``(ts_s, state, failure_mode)`` of every assessment.
"""

from __future__ import annotations

from typing import Any

from detectors import BearingGeometry, MachineInfo, Snapshot, UnitMonitor
from simulator.fleet import load_fleet
from simulator.stream import FleetStream

START_MS = 1_767_225_600_000  # 2026-01-01T00:00Z: the ambient cycle follows the time of day


def machine_of(model: Any) -> MachineInfo:
    b = model.bearing
    return MachineInfo(rated_rpm=model.rated_rpm, bearing=BearingGeometry(b.n_balls, b.ball_d, b.pitch_d, b.contact_deg),
                       iso_group=model.iso_group, foundation=model.foundation)


def run_fleet(doc: dict[str, Any]) -> dict[str, list[tuple[float, str, str | None]]]:
    """Assessments per unit id for the fleet described by ``doc`` (a fleet file as a dict)."""
    fleet = load_fleet(doc)
    monitors = {u.unit_id: UnitMonitor(machine_of(u.model)) for u in fleet.units}
    out: dict[str, list[tuple[float, str, str | None]]] = {u.unit_id: [] for u in fleet.units}
    stream = FleetStream(fleet, START_MS)
    for e in stream.emissions(START_MS + int(fleet.duration_s * 1000)):
        mon = monitors[e.unit.unit_id]
        ts = e.ts_ms / 1000
        if e.kind == "telemetry":
            a = mon.update_scalars(ts, dict(e.values or {}))
        else:
            a = mon.update_snapshot(Snapshot(ts=ts, fs=e.unit.model.sensor.fs, samples=e.samples, rpm=e.rpm))
        if a is not None:
            out[e.unit.unit_id].append((ts, a.state, a.failure_mode))
    return out


def alert_modes(assessments: list[tuple[float, str, str | None]], since: float = float("-inf")) -> list[str]:
    """Failure modes the alert service would open an alert for (state watch or worse), in order."""
    seen: list[str] = []
    for ts, state, mode in assessments:
        if ts >= since and state in ("watch", "warning", "alarm"):
            m = mode or "anomaly"
            if m not in seen:
                seen.append(m)
    return seen
