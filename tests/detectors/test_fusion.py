"""One primary failure mode per unit: unit rules of :class:`detectors.fusion.PrimaryMode`, the
monitor's scalar path, and simulated fleets (one mode per fault from first warning to failure,
no alert at all on healthy units over several simulated days)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from detectors import MachineInfo, UnitMonitor
from detectors.fusion import PrimaryMode
from detectors.types import Assessment
from tests.detectors.fleetsim import START_MS, alert_modes, run_fleet
from tests.detectors.sim import GEO, RPM


def _a(ts: float, state: str, mode: str | None) -> Assessment:
    return Assessment(ts=ts, state=state, failure_mode=mode)  # type: ignore[arg-type]


def test_secondary_symptoms_become_evidence_of_the_primary_mode() -> None:
    pm = PrimaryMode(hold=5, wait=0)
    assert pm.update(_a(0, "warning", "outer_race"), snapshot=True).failure_mode == "outer_race"
    for mode in ("lubrication", "anomaly", "bearing"):
        a = pm.update(_a(1, "warning", mode), snapshot=False)
        assert a.failure_mode == "outer_race"
        assert a.evidence[-1]["observed_mode"] == mode
    assert pm.update(_a(2, "watch", None), snapshot=True).failure_mode == "outer_race"


def test_a_vague_mode_is_refined_at_once_a_different_fault_only_after_hold() -> None:
    pm = PrimaryMode(hold=3, wait=0)
    assert pm.update(_a(0, "watch", "anomaly"), snapshot=True).failure_mode == "anomaly"
    assert pm.update(_a(2, "warning", "bearing"), snapshot=True).failure_mode == "bearing"
    assert pm.update(_a(3, "warning", "ball"), snapshot=True).failure_mode == "ball"
    # another fault must be named on `hold` consecutive snapshots; interruptions start over
    modes = [pm.update(_a(4 + i, "warning", m), snapshot=True).failure_mode
             for i, m in enumerate(["imbalance", "imbalance", "ball", "imbalance", "imbalance"])]
    assert modes == ["ball"] * 5
    assert pm.update(_a(9, "warning", "imbalance"), snapshot=False).failure_mode == "ball"  # scalars do not count
    assert pm.update(_a(10, "warning", "imbalance"), snapshot=True).failure_mode == "imbalance"


def test_lubrication_is_a_fault_of_its_own_when_the_temperature_rose_first() -> None:
    pm = PrimaryMode(hold=2, wait=0)
    assert pm.update(_a(0, "watch", "lubrication"), snapshot=False).failure_mode == "lubrication"
    assert pm.update(_a(1, "warning", "bearing"), snapshot=True).failure_mode == "lubrication"  # friction noise
    assert pm.update(_a(2, "warning", "imbalance"), snapshot=True).failure_mode == "lubrication"
    assert pm.update(_a(3, "warning", "imbalance"), snapshot=True).failure_mode == "imbalance"  # after hold


def test_an_unnamed_deviation_waits_for_a_name_before_watch() -> None:
    pm = PrimaryMode(wait=2)
    first = pm.update(_a(0, "watch", "anomaly"), snapshot=True)
    assert first.state == "healthy" and first.failure_mode is None and "not named yet" in first.reasons[-1]
    assert pm.update(_a(1, "watch", None), snapshot=True).state == "healthy"
    assert pm.update(_a(2, "watch", "imbalance"), snapshot=True).failure_mode == "imbalance"  # named: no wait
    pm = PrimaryMode(wait=2)
    assert pm.update(_a(0, "warning", "anomaly"), snapshot=True).failure_mode == "anomaly"  # warnings never wait
    pm = PrimaryMode(wait=1)
    pm.update(_a(0, "watch", "anomaly"), snapshot=True)
    assert pm.update(_a(1, "watch", "anomaly"), snapshot=True).failure_mode == "anomaly"  # nothing names it


def test_scalar_telemetry_between_waiting_snapshots_does_not_restart_the_wait() -> None:
    """Units send scalar telemetry between snapshots, each record fused with the last snapshot's state,
    which while waiting is healthy: each such record started the wait again, so with telemetry an
    unnamed deviation never reached watch however long it lasted."""
    pm = PrimaryMode(wait=2)
    seen = []
    for i in range(4):
        seen.append(pm.update(_a(10 * i, "watch", "anomaly"), snapshot=True).state)
        pm.update(_a(10 * i + 5, "healthy", None), snapshot=False)  # a telemetry record in between
    assert seen == ["healthy", "healthy", "watch", "watch"]
    pm = PrimaryMode(wait=2)
    pm.update(_a(0, "watch", "anomaly"), snapshot=True)
    pm.update(_a(5, "healthy", None), snapshot=True)  # a healthy snapshot ends the episode: the next waits anew
    assert [pm.update(_a(10 + i, "watch", "anomaly"), snapshot=True).state for i in range(3)] == \
        ["healthy", "healthy", "watch"]


def test_primary_mode_is_forgotten_after_a_healthy_spell_and_survives_json() -> None:
    pm = PrimaryMode(hold=3, memory_s=100, wait=0)
    pm.update(_a(0, "warning", "imbalance"), snapshot=True)
    assert pm.update(_a(10, "healthy", None), snapshot=True).failure_mode is None
    pm = PrimaryMode.from_state(json.loads(json.dumps(pm.state_dict())))
    assert pm.update(_a(50, "watch", "looseness"), snapshot=True).failure_mode == "imbalance"  # still remembered
    pm.update(_a(60, "healthy", None), snapshot=True)
    pm.update(_a(200, "healthy", None), snapshot=True)
    assert pm.update(_a(210, "watch", "looseness"), snapshot=True).failure_mode == "looseness"


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="hold"):
        PrimaryMode(hold=0)
    with pytest.raises(ValueError, match="mode_hold"):
        UnitMonitor(MachineInfo(rated_rpm=RPM, bearing=GEO), mode_hold=0)


def test_monitor_reads_the_hold_from_its_current_config() -> None:
    mon = UnitMonitor(MachineInfo(rated_rpm=RPM, bearing=GEO))
    mon.config = dataclasses.replace(mon.config, mode_hold=2, name_wait=0)
    mon.primary.update(_a(0, "warning", "imbalance"), snapshot=True)
    assert mon._primary(_a(1, "warning", "looseness"), snapshot=True).failure_mode == "imbalance"
    assert mon._primary(_a(2, "warning", "looseness"), snapshot=True).failure_mode == "looseness"


def test_an_older_saved_state_restores_without_a_primary_mode() -> None:
    mon = UnitMonitor(MachineInfo(rated_rpm=RPM, bearing=GEO))
    state = json.loads(json.dumps(mon.state_dict()))
    del state["primary"], state["scalar_mode"]  # what the previous version saved
    restored = UnitMonitor.from_state(state, mon.machine)
    assert restored.primary.mode is None and restored.state_dict()["version"] == 2


HOUR = 3600.0
FLEET = {
    "seed": 0, "duration": "3d", "telemetry_interval": "10s",
    "units": [
        {"id": "P-0001", "model": "P-1800", "batch": "a"},
        {"id": "P-0002", "model": "P-1800", "batch": "a",
         "fault": {"kind": "outer_race", "onset": "4h", "failure": "40h"}},
        {"id": "F-0001", "model": "F-3000", "batch": "b"},
        {"id": "F-0002", "model": "F-3000", "batch": "b",
         "fault": {"kind": "imbalance", "onset": "6h", "failure": "44h", "growth": 1.5}},
        {"id": "G-0001", "model": "G-300", "batch": "c"},
        {"id": "P-0004", "model": "P-1800", "batch": "a",
         "fault": {"kind": "lubrication", "onset": "20h", "ttf": "12h", "growth": 2}},
    ],
}


@pytest.fixture(scope="module")
def fleet_run() -> dict[str, list[tuple[float, str, str | None]]]:
    return run_fleet(FLEET)


@pytest.mark.slow
@pytest.mark.parametrize("unit,mode,failure_h,lead_h", [("P-0002", "outer_race", 40, 24),
                                                        ("F-0002", "imbalance", 44, 24),
                                                        ("P-0004", "lubrication", 32, 2)])
def test_a_simulated_fault_is_one_failure_mode_from_first_warning_to_failure(
        fleet_run: dict[str, list[tuple[float, str, str | None]]], unit: str, mode: str, failure_h: float,
        lead_h: float) -> None:
    runs = fleet_run[unit]
    t0 = START_MS / 1000
    first = next(ts for ts, state, _ in runs if state in ("warning", "alarm"))
    assert first < t0 + (failure_h - lead_h) * HOUR
    assert alert_modes(runs) == [mode]  # from the first watch on, not only from the first warning
    assert {m for ts, s, m in runs if first <= ts < t0 + failure_h * HOUR and s != "unknown"} == {mode}


@pytest.mark.slow
@pytest.mark.parametrize("unit", ["P-0001", "F-0001", "G-0001"])
def test_healthy_simulated_units_raise_no_alert_over_three_days(
        fleet_run: dict[str, list[tuple[float, str, str | None]]], unit: str) -> None:
    runs = fleet_run[unit]
    assert runs[-1][0] - runs[0][0] > 2.9 * 24 * HOUR  # daily ambient cycles, stops and load steps included
    assert alert_modes(runs) == []


def test_lubrication_read_from_vibration_is_refined_by_impulses_not_when_read_from_heat() -> None:
    pm = PrimaryMode(wait=0)
    pm.update(_a(0, "warning", "lubrication"), snapshot=True)  # high-frequency noise, no impulses
    assert pm.update(_a(1, "warning", "bearing"), snapshot=True).failure_mode == "bearing"
    pm = PrimaryMode(wait=0)
    pm.parts_known = True  # with bearing geometry a damaged part would show its defect lines
    pm.update(_a(0, "warning", "lubrication"), snapshot=True)
    assert pm.update(_a(1, "warning", "bearing"), snapshot=True).failure_mode == "lubrication"
    pm = PrimaryMode(wait=0)
    pm.update(_a(0, "warning", "lubrication"), snapshot=False)  # the temperature
    assert pm.update(_a(1, "warning", "bearing"), snapshot=True).failure_mode == "lubrication"
    assert PrimaryMode.from_state(json.loads(json.dumps(pm.state_dict()))).heat


def test_a_challenger_takes_over_although_scalar_telemetry_arrives_between_its_snapshots() -> None:
    # telemetry every 10 s between snapshots carries the primary mode; it must not reset the challenger's
    # run, or a wrong first name could never be replaced in the live pipeline
    pm = PrimaryMode(hold=3, wait=0)
    pm.update(_a(0, "watch", "imbalance"), snapshot=True)
    t = 1
    for _ in range(3):
        for _ in range(5):
            pm.update(_a(t, "watch", "imbalance"), snapshot=False)
            t += 1
        pm.update(_a(t, "warning", "looseness"), snapshot=True)
        t += 1
    assert pm.mode == "looseness"
    # a waveform that names the primary mode again does break the run
    pm = PrimaryMode(hold=3, wait=0)
    pm.update(_a(0, "watch", "imbalance"), snapshot=True)
    for t, mode in enumerate(["looseness", "looseness", "imbalance", "looseness", "looseness"], start=1):
        pm.update(_a(t, "warning", mode), snapshot=True)
    assert pm.mode == "imbalance"
