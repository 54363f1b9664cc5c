"""Scalar telemetry in the live engine: the NAB-measured detector scores every value and notes the
unusual ones without changing the health state; its state is kept and bounded."""

from __future__ import annotations

import json

import numpy as np

from detectors import BearingGeometry, MachineInfo, Snapshot, UnitMonitor
from detectors.config import MonitorConfig
from detectors.scalars import ScalarPanel

HOUR = 3600.0


def _daily(i: int, rng) -> float:
    return 40 + 3 * np.sin(2 * np.pi * i / 144) + rng.normal(0, 0.1)  # a value every 10 min, daily cycle


def test_every_value_is_scored_and_an_unseen_value_is_noted_not_alarmed():
    rng = np.random.default_rng(0)
    mon = UnitMonitor(MachineInfo(rated_rpm=1800))
    notes = []
    for i in range(600):  # ~4 days: the key's commissioning (1 day) is over
        a = mon.update_scalars(i * 600.0, {"pressure_bar": _daily(i, rng)})
        assert "anomaly_pressure_bar" in a.scores and 0.0 <= a.scores["anomaly_pressure_bar"] <= 1.0
        notes += [r for r in a.reasons if r.startswith("note:")]
    assert not notes
    # a little above every value seen in four days (43.1 bar): unusual, but 1.5 robust SD from the
    # median, so the health state does not move; the service team sees a note
    a = mon.update_scalars(600 * 600.0, {"pressure_bar": 44.5})
    assert a.state == "healthy"
    assert a.scores["anomaly_pressure_bar"] == 1.0
    assert any(r.startswith("note: pressure_bar behaves unusually") for r in a.reasons)
    assert any(e.get("feature") == "pressure_bar" and e.get("anomaly_score") == 1.0 for e in a.evidence)


def test_the_anomaly_detector_state_round_trips_and_an_older_state_still_loads():
    rng = np.random.default_rng(1)
    panel = ScalarPanel(MonitorConfig())
    for i in range(300):
        panel.update(i * 600.0, {"temperature_c": _daily(i, rng)})
    state = json.loads(json.dumps(panel.state_dict()))
    again = ScalarPanel.from_state(MonitorConfig(), state)
    nxt = {"temperature_c": 41.0}
    assert again.update(300 * 600.0, nxt)[1].scores == panel.update(300 * 600.0, nxt)[1].scores
    tracks = {k: t.state_dict() for k, t in panel.tracks.items()}  # each trend with its own times, as then
    older = ScalarPanel.from_state(MonitorConfig(), json.loads(json.dumps(tracks)))  # saved before: tracks only
    assert set(older.tracks) == {"temperature_c"} and older.anomaly.state_dict()["channels"] == {}


def test_a_unit_with_the_most_scalar_keys_stays_under_64_kb():
    """The whole unit: its snapshots' detectors (bearing geometry, trends) and the most scalar series.
    With the floats of trends and likelihoods written as JSON lists it took 67,247 bytes."""
    rng = np.random.default_rng(2)
    cfg = MonitorConfig()
    mon = UnitMonitor(MachineInfo(rated_rpm=1780, bearing=BearingGeometry(n_balls=9, ball_d=7.94, pitch_d=39.04)))
    keys = [f"metric_{k}" for k in range(cfg.max_scalar_keys + 4)]  # more than are tracked
    for i in range(3000):
        mon.update_scalars(i * 60.0, {k: float(rng.normal(10 + j, 1 + j / 10)) for j, k in enumerate(keys)})
        if i % 10 == 0:
            mon.update_snapshot(Snapshot(ts=i * 60.0 + 1, fs=25600, samples=rng.normal(0, 0.1, 2560), rpm=1780))
    for tr in mon.trends.values():  # the trends' coarser tiers full too (they fill over 3,072 snapshots)
        for i in range(3100):
            tr.update(200_000.0 + i * 60.0, float(rng.uniform(0.5, 2.0)))
        assert all(len(tier) == tr.window for tier in tr.coarse)
    state = mon.state_dict()
    assert state["commissioning"] and state["trends"]  # the snapshot side is in it
    assert len(state["scalars"]["tracks"]) == cfg.max_scalar_keys
    assert len(state["scalars"]["anomaly"]["channels"]) == cfg.max_anomaly_keys
    assert len(json.dumps(state)) < 64 * 1024, len(json.dumps(state))


def test_values_past_the_tracked_names_are_said_not_to_be_assessed():
    """Only the first ``max_scalar_keys`` value names a unit sends are assessed; the rest were dropped
    without a word (a bearing temperature sent 17th was never judged, and nobody could tell)."""
    cfg = MonitorConfig(max_scalar_keys=3)
    mon = UnitMonitor(MachineInfo(rated_rpm=1800), **cfg.as_dict())
    first = {"motor_temperature_c": 60.0, "pressure_bar": 4.0, "flow_m3h": 30.0}
    a = mon.update_scalars(0.0, first)
    assert not any("not assessed" in r for r in a.reasons)
    a = mon.update_scalars(60.0, {**first, "bearing_temperature_c": 55.0, "oil_bar": 2.0})
    note = [r for r in a.reasons if "not assessed" in r]
    assert note == ["note: bearing_temperature_c, oil_bar not assessed: this unit's first 3 value names are "
                    "(max_scalar_keys)"], a.reasons
    assert a.state == "healthy" and set(mon.scalars.tracks) == {"motor_temperature_c", "pressure_bar", "flow_m3h"}


def _minutely_day(i: int, rng, inverted: bool = False) -> float:
    """A value a minute with a daily cycle (1,440 values: longer than the 341 the fine phase history finds)."""
    s = 3 * np.sin(2 * np.pi * i / 1440)
    return 40 + (-s if inverted else s) + rng.normal(0, 0.1)


def _minutely_notes(break_day: int | None) -> list[int]:
    """The minutes noted over 6 days of a value a minute, the half-day from noon of ``break_day`` inverted
    (the day runs half a day out of phase: every value in the usual range, every step a usual one)."""
    rng = np.random.default_rng(6)
    panel = ScalarPanel(MonitorConfig())
    noted = []
    for i in range(6 * 1440):
        inverted = break_day is not None and break_day * 1440 + 720 <= i < (break_day + 1) * 1440
        a = panel.update(i * 60.0, {"pressure_bar": _minutely_day(i, rng, inverted)})[1]
        if any(r.startswith("note: pressure_bar") for r in a.reasons):
            noted.append(i)
    return noted


def test_a_day_of_values_a_minute_broken_in_phase_is_noted(monkeypatch):
    """The live engine's detector sees a daily cycle of values a minute (since 2026-11-23, the long-cycle
    phase novelty): the broken half-day is noted, where ScalarAnomaly alone (the panel's detector before)
    notes nothing; on the intact days it notes what ScalarAnomaly notes, no more."""
    import detectors.scalars
    from detectors.scalar import ScalarAnomaly

    broken, intact = _minutely_notes(break_day=4), _minutely_notes(break_day=None)
    monkeypatch.setattr(detectors.scalars, "PanelAnomaly", ScalarAnomaly)
    broken_before, intact_before = _minutely_notes(break_day=4), _minutely_notes(break_day=None)
    new = sorted(set(broken) - set(broken_before))
    assert new and 4 * 1440 + 720 <= new[0] < 5 * 1440, (broken, broken_before)
    assert not [i for i in broken_before if 4 * 1440 + 720 <= i < 5 * 1440]
    assert intact == intact_before


def test_a_state_saved_by_scalar_anomaly_loads_in_the_live_panel():
    from detectors.scalar import ScalarAnomaly

    rng = np.random.default_rng(7)
    panel = ScalarPanel(MonitorConfig())
    old = ScalarAnomaly()  # the panel's detector before 2026-11-23
    for i in range(400):
        v = _daily(i, rng)
        panel.update(i * 600.0, {"temperature_c": v})
        old.learn_one({"temperature_c": v})
    state = json.loads(json.dumps({**panel.state_dict(), "anomaly": old.state_dict()}))
    again = ScalarPanel.from_state(MonitorConfig(), state)
    assert again.anomaly._channels["temperature_c"].n == 400
    assert again.update(400 * 600.0, {"temperature_c": 41.0}) is not None
