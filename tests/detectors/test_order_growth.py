"""A shaft fault that grows slowly in one order is warned by that order's own running median.

On a gearbox (the catalogue's G-300: 300 rpm, a 2x under its 1x and gear mesh) a developing
misalignment doubles and triples the 2x over a day or two while the feature vector as a whole moves
little, so the T² stays under its threshold and the per-snapshot order rule, which waits for it,
warned only near the ISO zones (27-35 h before failure on the seeds below, 21 h on the validation
fleet's VG-0003, under the issue's 24 h). The median of an order's last ``smooth`` snapshots at
``warning_ratio`` x its baseline is now a warning by itself (43-51 h before failure)."""

from __future__ import annotations

import pytest

from detectors import Snapshot, UnitMonitor
from simulator.fleet import load_fleet
from simulator.stream import FleetStream
from tests.detectors.fleetsim import START_MS, machine_of


def _first_warning(seed: int, fault: dict | None) -> tuple[float, str, str | None] | None:
    """(hours before the failure, or since the start without a fault; the first reason; the failure
    mode named) of the first warning."""
    unit = {"id": "G-1", "model": "G-300"} | ({"fault": fault} if fault else {})
    fleet = load_fleet({"seed": seed, "duration": "119h", "telemetry_interval": "30m", "snapshot_interval": "30m",
                        "units": [unit]})
    u = fleet.units[0]
    mon = UnitMonitor(machine_of(u.model))
    end = (START_MS + (u.fault.failure_ms if u.fault else fleet.duration_s * 1000)) / 1000
    for e in FleetStream(fleet, START_MS).emissions(START_MS + int(fleet.duration_s * 1000)):
        if e.kind != "telemetry" and e.ts_ms / 1000 < end:
            a = mon.update_snapshot(Snapshot(ts=e.ts_ms / 1000, fs=u.model.sensor.fs, samples=e.samples, rpm=e.rpm))
            if a.state in ("warning", "alarm"):
                return ((end - a.ts) / 3600 if u.fault else (a.ts - START_MS / 1000) / 3600, a.reasons[0],
                        a.failure_mode)
    return None


@pytest.mark.parametrize("seed", [0, 4])
def test_a_slowly_growing_misalignment_on_a_gearbox_is_warned_two_days_ahead(seed: int) -> None:
    got = _first_warning(seed, {"kind": "misalignment", "onset": "30h", "failure": "118h"})
    assert got is not None
    hours, reason, _ = got
    assert hours >= 40, (hours, reason)  # 27.0 and 27.8 h before, from the 2x per snapshot
    assert reason.startswith("2x shaft-speed velocity") and "(median of 5)" in reason


def test_a_healthy_gearbox_is_not_warned_by_its_orders() -> None:
    for seed in (0, 1, 2):
        assert _first_warning(seed, None) is None


@pytest.mark.parametrize("seed", [2, 3, 7])
def test_a_warning_raised_by_the_1x_median_names_imbalance(seed: int) -> None:
    """The gearbox's 1x scatters from snapshot to snapshot, so when its running median has grown
    threefold one snapshot's z-score can still be under the explanation's threshold: the warning
    that growth raised was named ``anomaly`` (these seeds), or ``bearing`` from a crest factor that
    jumped on one snapshot (the validation fleet's VG-0002 at seed 12), and its ticket with it."""
    got = _first_warning(seed, {"kind": "imbalance", "onset": "30h", "failure": "118h"})
    assert got is not None
    hours, reason, mode = got
    assert reason.startswith("1x shaft-speed velocity") and "(median of 5)" in reason, reason
    assert mode == "imbalance", (mode, reason)
