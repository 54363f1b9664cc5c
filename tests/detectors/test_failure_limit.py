"""A machine's own functional-failure limit (``failure_peak_g``, ``failure_rms_g``): validated like the other
settings; when set, the time to failure is counted to it and the alarm comes with it, the generic limits
(``alarm_ratio`` x the reference, ISO zone D) being a warning; unset, nothing changes.

Found on FEMTO (``bench/femto_truncated.py``): the test stops at an absolute 20 g, long after the engine's
relative alarm limit, so past that limit the engine said "0 s left" while the bearing ran on.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from detectors import MachineInfo, UnitMonitor
from detectors.config import MonitorConfig
from tests.detectors.sim import GEO, RPM, machine_signal, snap
from tests.detectors.test_state_size import LIMIT, T0, _record, _send

MACHINE = MachineInfo(rated_rpm=RPM, bearing=GEO)
DT = 600.0  # a snapshot every 10 minutes
ONSET, RATE = 60, 0.03  # the defect's amplitude grows by 3 % per snapshot from snapshot 60


# ------------------------------------------------------------------ the settings
@pytest.mark.parametrize("name", ["failure_peak_g", "failure_rms_g"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0, -5.0, "20", True, [20]])
def test_an_impossible_failure_limit_is_refused_naming_it(name: str, value) -> None:
    with pytest.raises(ValueError, match=f"^{name} must be a finite number of g above 0"):
        MonitorConfig(**{name: value})
    with pytest.raises(ValueError, match=f"^{name} must be a finite number of g above 0"):
        MonitorConfig.from_overrides({name: value})  # as a model's detector_config and evaluate's options give it


def test_a_failure_limit_is_unset_by_default_and_taken_as_a_float() -> None:
    assert MonitorConfig().failure_limits == {}
    assert MonitorConfig.from_overrides({"failure_peak_g": None}).failure_limits == {}  # JSON null: not set
    cfg = MonitorConfig.from_overrides({"failure_peak_g": 20, "failure_rms_g": np.float32(4.5)})
    assert cfg.failure_limits == {"peak_g": 20.0, "rms_g": 4.5}
    assert all(type(v) is float for v in cfg.failure_limits.values())
    json.dumps(cfg.as_dict())  # a unit's saved state holds it


def test_the_peak_limit_is_refused_with_more_trend_tiers_than_the_state_has_room_for() -> None:
    with pytest.raises(ValueError, match="trend_tiers must be at most 2 with failure_peak_g set .* got 3"):
        MonitorConfig.from_overrides({"failure_peak_g": 20, "trend_tiers": 3})
    assert MonitorConfig(failure_rms_g=5.0, trend_tiers=4).trend_tiers == 4  # the RMS is trended anyway


# ------------------------------------------------------------------ a run to failure
def _growing_defect(**config) -> list:
    """A bearing whose defect grows exponentially from snapshot ``ONSET``; the assessments, one per snapshot."""
    rng = np.random.default_rng(1)
    mon = UnitMonitor(MACHINE, warmup=30, **config)
    out = []
    for i in range(320):
        d = 0.0 if i < ONSET else 0.02 * math.exp(RATE * (i - ONSET))
        out.append(mon.update_snapshot(snap(i * DT, machine_signal(rng, defect=d))))
    return out


def _median_reaches(assessments: list, key: str, limit: float, smooth: int = 5) -> int:
    """The first snapshot whose running median of ``key`` (over ``smooth``) is at or over ``limit``."""
    values = [a.features[key] for a in assessments]
    return next(i for i in range(len(values)) if np.median(values[max(0, i - smooth + 1):i + 1]) >= limit)


@pytest.mark.parametrize(("key", "limit"), [("rms_g", 1.5), ("peak_g", 8.0)])
def test_the_time_to_failure_is_counted_to_a_stated_limit_beyond_the_generic_alarm(key: str, limit: float) -> None:
    default = _growing_defect()
    stated = _growing_defect(**{f"failure_{key}": limit})
    generic = next(i for i, a in enumerate(default) if a.state == "alarm")  # the RMS at 10 x its reference
    fails = _median_reaches(stated, key, limit)
    assert default[generic].ttf_s == 0.0
    assert fails - generic >= 20  # the stated limit lies well beyond the generic one (30 snapshots, 5 hours)
    # from the generic alarm until the stated limit: a warning, never an alarm, and a time to failure to the
    # stated limit (the defaults say 0 s all along)
    ratios = []
    for i in range(generic, fails):
        a = stated[i]
        assert a.state == "warning", (i, a.state, a.reasons)
        assert default[i].ttf_s == 0.0
        assert a.ttf_s is not None and a.ttf_low_s <= a.ttf_s <= a.ttf_high_s, (i, a.ttf_s)
        if i < fails - 2:  # (the trend's level now leads the running median of 5 by about 2 snapshots)
            assert a.ttf_s > 0, i
            ratios.append(a.ttf_s / ((fails - i) * DT))
    assert 0.5 <= float(np.median(ratios)) <= 1.5, ratios  # the estimate is of the time to the stated limit
    # the alarm comes with the limit, named, with 0 s left
    a = stated[fails]
    assert a.state == "alarm" and a.ttf_s == 0.0
    assert f"functional-failure limit failure_{key} = {limit:g} g" in a.reasons[0]
    assert all(b.state != "alarm" for b in stated[:fails])


def test_without_a_stated_limit_the_generic_alarm_and_time_to_failure_are_as_before() -> None:
    """The defaults: no peak trend, no saved failure part, the RMS at 10 x its reference is the alarm."""
    rng = np.random.default_rng(1)
    mon = UnitMonitor(MACHINE, warmup=30)
    for i in range(250):
        d = 0.0 if i < ONSET else 0.02 * math.exp(RATE * (i - ONSET))
        a = mon.update_snapshot(snap(i * DT, machine_signal(rng, defect=d)))
    assert a.state == "alarm" and a.reasons[0].startswith("RMS ") and a.ttf_s == 0.0
    state = mon.state_dict()
    assert set(state["trends"]) == {"rms_g", "velocity_rms_mm_s"} and "failure" not in state


def _noise(rng: np.random.Generator, rms: float) -> np.ndarray:
    return rng.normal(0.0, rms, 2560)


def test_the_alarm_at_a_stated_limit_is_held_until_the_level_is_clearly_below_it() -> None:
    """Reached by the median of ``smooth`` snapshots (a single knock is not the level), held until the median is
    ``iso_hysteresis`` (10 %) below the limit, as the ISO zones are."""
    rng = np.random.default_rng(5)
    mon = UnitMonitor(MachineInfo(rated_rpm=RPM), warmup=10, failure_rms_g=1.0)
    for i in range(12):
        mon.update_snapshot(snap(T0 + i * DT, _noise(rng, 0.9)))  # commissioned just under the limit
    ts = T0 + 12 * DT
    assert mon.update_snapshot(snap(ts, _noise(rng, 1.3))).state != "alarm"  # one snapshot over: not the level
    states = [mon.update_snapshot(snap(ts + k * DT, _noise(rng, 1.3))).state for k in range(1, 5)]
    assert states[-1] == "alarm" and states[0] != "alarm"
    held = [mon.update_snapshot(snap(ts + k * DT, _noise(rng, 0.95))).state for k in range(5, 12)]
    assert held == ["alarm"] * 7  # 5 % below the limit: still failed
    after = [mon.update_snapshot(snap(ts + k * DT, _noise(rng, 0.8))).state for k in range(12, 20)]
    assert after[-1] != "alarm"


# ------------------------------------------------------------------ the unit's state
def test_a_unit_with_a_stated_limit_is_restored_and_goes_on_bit_for_bit() -> None:
    rng = np.random.default_rng(8)
    mon = UnitMonitor(MACHINE, warmup=30, failure_peak_g=4.0, failure_rms_g=2.0)
    for i in range(260):
        d = 0.0 if i < ONSET else 0.02 * math.exp(RATE * (i - ONSET))
        mon.update_snapshot(snap(i * DT, machine_signal(rng, defect=d)))
    assert mon.failed and mon.last.state == "alarm"  # the peak limit is reached by then
    state = json.loads(json.dumps(mon.state_dict()))
    assert set(state["trends"]) == {"rms_g", "velocity_rms_mm_s", "peak_g"} and state["failure"]["reached"]
    back = UnitMonitor.from_state(state, MACHINE)
    assert back.config == mon.config and back.fail_buf == mon.fail_buf and back.failed
    for i in range(260, 280):
        x = machine_signal(rng, defect=0.02 * math.exp(RATE * (i - ONSET)))
        a, b = mon.update_snapshot(snap(i * DT, x)), back.update_snapshot(snap(i * DT, x))
        assert (a.state, a.ttf_s, a.reasons) == (b.state, b.ttf_s, b.reasons)
    assert json.dumps(mon.state_dict()) == json.dumps(back.state_dict())


@pytest.mark.parametrize("failure", [{"buf": {"peak_g": ["x"]}, "reached": False}, {"buf": {}, "reached": "yes"},
                                     {"buf": {"crest": [1.0]}, "reached": False}, [1, 2]])
def test_a_damaged_failure_part_of_the_state_is_refused_by_name(failure) -> None:
    rng = np.random.default_rng(9)
    mon = UnitMonitor(MACHINE, warmup=10, failure_peak_g=4.0)
    for i in range(12):
        mon.update_snapshot(snap(i * DT, machine_signal(rng)))
    state = json.loads(json.dumps(mon.state_dict()))
    with pytest.raises(ValueError, match="cannot restore the monitor: .*failure must hold buf"):
        UnitMonitor.from_state({**state, "failure": failure}, MACHINE)


def test_a_limit_set_or_cleared_while_the_unit_runs_starts_or_drops_the_peak_trend() -> None:
    """The service replaces a unit's settings while it runs (a model's detector_config changed)."""
    rng = np.random.default_rng(10)
    mon = UnitMonitor(MACHINE, warmup=10)
    for i in range(20):
        mon.update_snapshot(snap(i * DT, machine_signal(rng)))
    mon.config = dataclasses.replace(mon.config, failure_peak_g=0.1)  # below the healthy peak: failed at once
    states = [mon.update_snapshot(snap(i * DT, machine_signal(rng))).state for i in range(20, 23)]
    assert states[-1] == "alarm" and len(mon.trends["peak_g"].points) == 3
    mon.config = dataclasses.replace(mon.config, failure_peak_g=None)
    a = mon.update_snapshot(snap(23 * DT, machine_signal(rng)))
    assert a.state == "healthy" and "peak_g" not in mon.trends and "failure" not in mon.state_dict()


@pytest.mark.slow
def test_the_largest_state_with_a_stated_peak_limit_stays_under_64_kb() -> None:
    """As ``test_state_size``'s largest case (the most scalar series each sent apart, every trend tier full and
    each trend's times its own, a warning with its evidence), with ``failure_peak_g``, and so the peak's own
    trend, at the most tiers it allows (2): 62,446 bytes measured (57,882 without the limit; with 3 tiers,
    refused, 67,072); 55,261 once the scalar trends' times and the long-cycle rings were packed."""
    rng = np.random.default_rng(13)
    cfg = MonitorConfig()
    mon = UnitMonitor(MACHINE, trend_tiers=2, failure_peak_g=20.0, failure_rms_g=5.0)
    keys = [f"metric_{k}" for k in range(cfg.max_scalar_keys + 4)]
    for i in range(3000):
        ts = T0 + i * 60.0 + int(rng.integers(0, 2000)) / 1000
        _send(mon, ts, _record(rng, i, keys), together=False)
        if i % 10 == 0:
            mon.update_snapshot(snap(ts + 7.5, machine_signal(rng, defect=0.3 if i > 2900 else 0.0)))
    assert mon.last.state == "warning" and mon.last.evidence and set(mon.trends) >= {"peak_g"}
    for tr in mon.trends.values():
        for i in range(tr.window * tr.fold ** tr.tiers + 100):
            tr.update(T0 + 200_000.0 + i * 60.0 + int(rng.integers(0, 1000)) / 1000, float(rng.uniform(0.5, 2.0)))
        assert tr.tiers == 2 and all(len(tier) == tr.window for tier in tr.coarse)
    size = len(json.dumps(mon.state_dict()))
    print(f"every tier full, series apart, failure_peak_g: {size} bytes")
    assert size <= LIMIT
