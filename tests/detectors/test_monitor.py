"""UnitMonitor end to end on synthetic streams: quiet when healthy, early on a growing defect,
"cannot assess" on bad input, sensor faults and operating changes recognised, state restorable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors import MachineInfo, Snapshot, UnitMonitor
from detectors.types import HEALTH_ORDER
from tests.detectors.sim import FS, GEO, RPM, N, machine_signal, snap

MACHINE = MachineInfo(rated_rpm=RPM, bearing=GEO)
HOUR = 3600.0


def _commissioned(seed: int = 0, machine: MachineInfo = MACHINE, **cfg) -> tuple[UnitMonitor, np.random.Generator]:
    rng = np.random.default_rng(seed)
    mon = UnitMonitor(machine, **cfg)
    for i in range(mon.config.warmup):
        mon.update_snapshot(snap(i * HOUR, machine_signal(rng)))
    return mon, rng


def test_healthy_stream_raises_no_warning() -> None:
    mon, rng = _commissioned()
    states = [mon.update_snapshot(snap((30 + i) * HOUR, machine_signal(rng))).state for i in range(200)]
    assert states.count("healthy") >= 195
    assert not {"warning", "alarm", "unknown"} & set(states)


def test_growing_outer_race_defect_is_warned_named_and_given_a_time() -> None:
    mon, rng = _commissioned(1)
    first_warning = None
    for i in range(120):
        defect = 0.02 * np.exp(i / 25)  # grows e-fold every 25 hours
        a = mon.update_snapshot(snap((30 + i) * HOUR, machine_signal(rng, defect=defect)))
        if a.state in ("warning", "alarm") and first_warning is None:
            first_warning = (i, a)
    assert first_warning is not None
    i, a = first_warning
    assert i < 100  # well before the defect dominates
    assert a.failure_mode == "outer_race" and a.confidence and a.confidence > 0.3
    assert a.reasons and a.evidence
    late = mon.update_snapshot(snap(200 * HOUR, machine_signal(rng, defect=0.02 * np.exp(121 / 25))))
    assert late.ttf_s is not None and late.ttf_low_s <= late.ttf_s <= late.ttf_high_s


def test_scalar_telemetry_between_snapshots_keeps_the_vibrations_time_to_failure_and_reasons() -> None:
    # Units send scalar telemetry every minute and a snapshot every 10 min to 1 h. Each scalar record is
    # fused into an assessment, and the service shows a unit's latest one: that carried the vibration's
    # state and failure mode but not its time to failure or its reasons, so the dashboard said "no time-to-
    # failure estimate" (and gave no reason) for most of the time a failing unit had one.
    mon, rng = _commissioned(1)
    for i in range(120):
        mon.update_snapshot(snap((30 + i) * HOUR, machine_signal(rng, defect=0.02 * np.exp(i / 25))))
    last = mon.update_snapshot(snap(150 * HOUR, machine_signal(rng, defect=0.02 * np.exp(121 / 25))))
    assert last.ttf_s is not None and last.state in ("warning", "alarm") and last.reasons
    between = mon.update_scalars(150 * HOUR + 600, {"temperature_c": 41.0})
    assert (between.state, between.failure_mode) == (last.state, last.failure_mode)
    assert between.ttf_s == pytest.approx(max(last.ttf_s - 600, 0.0))  # the same estimate, 10 minutes on
    assert between.ttf_low_s == pytest.approx(max(last.ttf_low_s - 600, 0.0))
    assert between.ttf_high_s == pytest.approx(max(last.ttf_high_s - 600, 0.0))
    assert set(last.reasons) <= set(between.reasons)
    late = mon.update_scalars(150 * HOUR + last.ttf_high_s + 3600, {"temperature_c": 41.0})
    assert (late.ttf_s, late.ttf_low_s, late.ttf_high_s) == (0.0, 0.0, 0.0)  # past the range: due now


def test_a_restart_between_snapshots_keeps_what_the_last_snapshot_concluded() -> None:
    # The state kept everything but the last snapshot's assessment: after a restart, the unit's scalar
    # telemetry read the waveforms as healthy until the next snapshot, so a warning was cleared (and raised
    # again an hour later), and a unit stopped after its failure, sending no more snapshots, stayed healthy.
    mon, rng = _commissioned(1)
    for i in range(121):
        mon.update_snapshot(snap((30 + i) * HOUR, machine_signal(rng, defect=0.02 * np.exp(i / 25))))
    text = json.dumps(mon.state_dict())
    assert len(text) <= 64 * 1024
    restored = UnitMonitor.from_state(json.loads(text), MACHINE)
    for k in range(1, 7):  # telemetry every 10 minutes until the next snapshot
        a = mon.update_scalars(150 * HOUR + k * 600, {"temperature_c": 41.0})
        b = restored.update_scalars(150 * HOUR + k * 600, {"temperature_c": 41.0})
        assert b.state in ("warning", "alarm") and b.failure_mode == "outer_race"
        assert (b.state, b.failure_mode, b.confidence, b.ttf_s, b.ttf_low_s, b.ttf_high_s, b.reasons) == (
            a.state, a.failure_mode, a.confidence, a.ttf_s, a.ttf_low_s, a.ttf_high_s, a.reasons)
    assert restored.state_dict() == mon.state_dict()
    # a state saved before the last assessment was kept restores as before (nothing carried)
    old = json.loads(text)
    del old["last"]
    assert UnitMonitor.from_state(old, MACHINE).update_scalars(151 * HOUR, {"temperature_c": 41.0}).state == "healthy"


def test_scalar_telemetry_of_a_healthy_unit_gets_no_time_to_failure() -> None:
    mon, rng = _commissioned(5)
    for i in range(5):
        mon.update_snapshot(snap((30 + i) * HOUR, machine_signal(rng)))
    a = mon.update_scalars(35 * HOUR, {"temperature_c": 41.0})
    assert a.state == "healthy" and a.ttf_s is None and a.ttf_low_s is None


@pytest.mark.parametrize("samples,fs,reason", [
    (np.full(N, np.nan), FS, "NaN"),
    (np.r_[np.zeros(N - 1), np.inf], FS, "NaN or infinite"),
    (np.array([]), FS, "0 samples"),
    (np.zeros(10), FS, "at least 256"),
    (np.random.default_rng(0).normal(0, 0.05, N), 800.0, "cannot resolve"),
    (np.random.default_rng(0).normal(0, 0.05, N), float("nan"), "sample rate"),
    (np.array(["a"] * N), FS, "not numbers"),
    (None, FS, "not numbers"),
    (np.zeros((2, N)), FS, "one-dimensional"),
    (np.full(N, 1e200), FS, "beyond any accelerometer"),
    ([[0.1] * N, [0.2]], FS, "samples are not an array of numbers"),  # rows of different lengths raised ValueError
    (np.random.default_rng(0).normal(0, 0.05, N), None, "sample rate None"),
])
def test_bad_input_is_cannot_assess_with_the_reason(samples: np.ndarray, fs: float, reason: str) -> None:
    mon, _ = _commissioned()
    a = mon.update_snapshot(Snapshot(ts=1e6, fs=fs, samples=samples, rpm=RPM))
    assert a.state == "unknown" and a.failure_mode is None
    assert "cannot assess" in a.reasons[0] and reason in a.reasons[0]


def test_sample_rate_too_low_for_the_defect_frequencies() -> None:
    mon = UnitMonitor(MachineInfo(rated_rpm=6000, bearing=GEO))  # BPFI harmonics up to ~1.9 kHz
    x = np.random.default_rng(0).normal(0, 0.05, N)
    a = mon.update_snapshot(Snapshot(ts=0, fs=2500.0, samples=x, rpm=6000))
    assert a.state == "unknown" and "cannot resolve the bearing defect" in a.reasons[0]


def test_constant_snapshot_is_a_stuck_sensor() -> None:
    mon, _ = _commissioned()
    a = mon.update_snapshot(snap(1e6, np.full(N, 0.3)))
    assert a.state == "unknown" and a.sensor_fault == "stuck"


@pytest.mark.parametrize("kind", ["spikes", "saturation", "dropout", "stuck"])
def test_sensor_faults_are_recognised_not_reported_as_machine_faults(kind: str) -> None:
    mon, rng = _commissioned(2)
    x = machine_signal(rng)
    if kind == "spikes":
        x[[300, 1700]] = 5.0
    elif kind == "saturation":
        x = np.clip(x * 8, -0.3, 0.3)
    elif kind == "dropout":
        x[800:1400] = 0.0
    elif kind == "stuck":
        mon.update_snapshot(snap(40 * HOUR, x))
    a = mon.update_snapshot(snap(41 * HOUR, x))
    assert a.state == "unknown" and a.sensor_fault == kind and a.failure_mode is None
    after = mon.update_snapshot(snap(42 * HOUR, machine_signal(rng)))
    assert after.state == "healthy"


def test_stop_start_up_and_load_step_raise_no_warning() -> None:
    mon, rng = _commissioned(3)
    t = 30 * HOUR
    seen = []
    for _ in range(5):  # stopped: residual noise only
        t += HOUR
        seen.append(mon.update_snapshot(snap(t, rng.normal(0, 0.002, N), rpm=0.0)))
    for rpm in np.linspace(100, RPM, 8):  # start-up ramp
        t += 60
        seen.append(mon.update_snapshot(snap(t, machine_signal(rng, gain=rpm / RPM * 3, rpm=rpm), rpm=rpm)))
    for _ in range(40):  # a load step: everything 3x louder at once, then steady
        t += HOUR
        seen.append(mon.update_snapshot(snap(t, machine_signal(rng, gain=3.0))))
    assert all(HEALTH_ORDER[a.state] < HEALTH_ORDER["warning"] for a in seen), [a.reasons for a in seen
                                                                               if a.state == "warning"][:2]
    assert any("stopped" in a.reasons[0] for a in seen[:5])
    assert any("start-up" in a.reasons[0] for a in seen[5:13])


def test_a_long_commissioning_keeps_the_state_bounded_and_still_warns() -> None:
    """A model may ask for a day of one-minute snapshots as its baseline (warmup 1,440): the
    baselines kept every warm-up snapshot, about 400 bytes each, so the state passed 64 KB after
    about 150 of them (580 KB at the end). They now keep 64, evenly spread."""
    rng = np.random.default_rng(11)
    mon = UnitMonitor(MACHINE, warmup=1440)
    largest = 0
    for i in range(1440):
        a = mon.update_snapshot(snap(i * 60.0, machine_signal(rng)))
        if i % 100 == 99 or i == 1438:
            largest = max(largest, len(json.dumps(mon.state_dict())))
    assert a.state == "healthy", a.reasons
    assert mon.baseline.ready and mon.mv.ready and mon.mv.n <= 64
    assert largest <= 64 * 1024, largest
    restored = UnitMonitor.from_state(json.loads(json.dumps(mon.state_dict())), MACHINE)
    states = []
    for i in range(80):
        defect = 0.02 * np.exp(i / 10)
        states.append(restored.update_snapshot(snap((1440 + i) * 60.0, machine_signal(rng, defect=defect))).state)
    assert states[:5].count("healthy") == 5 and "warning" in states, states


def test_state_survives_a_restart_and_is_bounded() -> None:
    mon, rng = _commissioned(4)
    stream = [machine_signal(rng, defect=0.02 * np.exp(i / 20)) for i in range(60)]
    for i, x in enumerate(stream[:30]):
        mon.update_snapshot(snap((30 + i) * HOUR, x))
    mon.update_scalars(59 * HOUR, {"temperature_c": 41.0})
    state = mon.state_dict()
    text = json.dumps(state)
    assert len(text) <= 64 * 1024
    restored = UnitMonitor.from_state(json.loads(text), MACHINE)
    for i, x in enumerate(stream[30:]):
        a = mon.update_snapshot(snap((60 + i) * HOUR, x))
        b = restored.update_snapshot(snap((60 + i) * HOUR, x))
        assert (a.state, a.failure_mode, a.scores) == (b.state, b.failure_mode, b.scores)
    assert restored.baseline.ready  # not relearnt
    assert len(json.dumps(restored.state_dict())) <= 64 * 1024


def test_scalar_telemetry() -> None:
    mon = UnitMonitor(MachineInfo(), warmup=20)
    assert mon.update_scalars(0.0, {}) is None
    assert mon.update_scalars(0.0, {"t": float("nan"), "u": "x"}) is None  # type: ignore[dict-item]
    rng = np.random.default_rng(5)
    states = [mon.update_scalars(i * 600.0, {"temp_c": 40 + rng.normal(0, 0.3)}).state for i in range(200)]
    assert set(states) == {"healthy"}
    rising = [mon.update_scalars((200 + i) * 600.0, {"temp_c": 40 * 1.03 ** i}) for i in range(40)]
    assert rising[-1].state in ("warning", "alarm") and "temp_c" in rising[-1].reasons[0]
    assert rising[-1].ttf_s is not None


def test_bad_config_is_a_named_error() -> None:
    with pytest.raises(ValueError, match="warmup"):
        UnitMonitor(MACHINE, warmup=2)
    with pytest.raises(ValueError, match="unknown detector setting.s. no_such_knob"):
        UnitMonitor(MACHINE, no_such_knob=1)
    with pytest.raises(ValueError, match=r"warmpu \(did you mean warmup\?\)"):
        UnitMonitor(MACHINE, warmpu=60)
    # an axis no device sends would leave the unit unassessed for good: refused, naming the axes
    with pytest.raises(ValueError, match="axis must be one of x, y, z, h, v"):
        UnitMonitor(MACHINE, axis="q")
    assert UnitMonitor(MACHINE, axis="v").config.axis == "v"
    from detectors.config import AXES
    from devices.protocol import AXES as PROTOCOL_AXES

    assert AXES[1:] == PROTOCOL_AXES  # the same axes as the device protocol


def test_arbitrary_input_never_stops_the_stream() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    mon, _ = _commissioned(7)

    @settings(max_examples=40, deadline=None)
    @given(
        n=st.integers(0, 3000),
        scale=st.floats(1e-12, 1e6),
        fs=st.floats(0.0, 1e5) | st.sampled_from([float("nan"), float("inf"), -1.0]),
        rpm=st.none() | st.floats(-10, 1e5) | st.just(float("nan")),
        seed=st.integers(0, 1000),
    )
    def run(n: int, scale: float, fs: float, rpm: float | None, seed: int) -> None:
        x = np.random.default_rng(seed).normal(0, scale, n)
        a = mon.update_snapshot(Snapshot(ts=1e7 + seed, fs=fs, samples=x, rpm=rpm))
        assert a.state in ("healthy", "watch", "warning", "alarm", "unknown")
        json.dumps(a.to_dict())

    run()


def test_isolated_scalar_spikes_are_a_sensor_fault_not_a_warning() -> None:
    mon = UnitMonitor(MachineInfo())
    rng = np.random.default_rng(8)
    for i in range(200):
        mon.update_scalars(i * 600.0, {"velocity_mm_s": 0.6 + rng.normal(0, 0.02)})
    seen = []
    for i in range(200, 700):
        v = 0.6 + rng.normal(0, 0.02)
        if rng.uniform() < 0.05:
            v = v * 8 + 50  # what a spiking transmitter sends
        seen.append(mon.update_scalars(i * 600.0, {"velocity_mm_s": v}))
    assert all(a is not None and a.state == "healthy" for a in seen)
    assert any(a.sensor_fault == "spikes" for a in seen if a is not None)


def test_envelope_band_is_reused_while_healthy_and_rechosen_on_schedule() -> None:
    mon, rng = _commissioned(band_recheck=4, band_recheck_unhealthy=2)
    ages = []
    for i in range(9):
        mon.update_snapshot(snap((40 + i) * HOUR, machine_signal(rng)))
        ages.append(mon.band_age)
    first = ages.index(0)
    assert ages[first:first + 6] == [0, 1, 2, 3, 4, 0]  # chosen, reused band_recheck times, chosen again
    restored = UnitMonitor.from_state(json.loads(json.dumps(mon.state_dict())), MACHINE)
    assert restored.env_band == mon.env_band and restored.band_age == mon.band_age
    mon.band_age = 3
    ages = []
    for i in range(7):
        mon.level = 1  # not healthy: re-chosen after band_recheck_unhealthy reuses, at once on entry
        mon.update_snapshot(snap((60 + i) * HOUR, machine_signal(rng)))
        ages.append(mon.band_age)
    assert ages == [0, 1, 2, 0, 1, 2, 0]


def test_band_recheck_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="band_recheck_unhealthy"):
        UnitMonitor(MACHINE, band_recheck_unhealthy=-1)
    every = UnitMonitor(MACHINE, band_recheck_unhealthy=0)  # 0: every snapshot while not healthy
    assert every.config.band_recheck_unhealthy == 0


def test_a_unit_running_away_from_its_models_rated_speed_is_commissioned_and_warned() -> None:
    """A model rated 1,480 rpm (a 50 Hz nameplate) on a drive that runs it at 1,770 rpm: the unit
    must not be held as "start-up or speed change" forever (it was: never learnt, never warned)."""
    mon = UnitMonitor(MachineInfo(rated_rpm=1480, bearing=GEO))
    rng = np.random.default_rng(11)
    seen = [mon.update_snapshot(snap(i * HOUR, machine_signal(rng, rpm=1770), rpm=1770)) for i in range(40)]
    assert "start-up or speed change" in seen[0].reasons[0]
    assert mon.baseline.ready and mon.base_rpm == pytest.approx(1770)
    assert any("not the model's rated 1480 rpm" in r for a in seen for r in a.reasons)
    first_warning = None
    for i in range(120):
        a = mon.update_snapshot(snap((40 + i) * HOUR, machine_signal(rng, rpm=1770, defect=0.02 * np.exp(i / 25)), rpm=1770))
        if a.state in ("warning", "alarm"):
            first_warning = a
            break
    assert first_warning is not None and first_warning.failure_mode == "outer_race"


def test_a_lasting_speed_change_is_relearnt_and_a_short_one_only_held() -> None:
    mon, rng = _commissioned(12)
    t = 30 * HOUR
    for _ in range(5):  # a short excursion: held, the baseline kept
        t += HOUR
        a = mon.update_snapshot(snap(t, machine_signal(rng, rpm=1500), rpm=1500))
        assert "start-up or speed change" in a.reasons[0] and a.state == "healthy"
    assert mon.baseline.ready and mon.base_rpm == pytest.approx(RPM, rel=0.01)
    mon.update_snapshot(snap(t + HOUR, machine_signal(rng), rpm=RPM))
    held = []
    for i in range(mon.config.rebaseline_after + mon.config.warmup + 5):  # the set point moved for good
        if i == 20:  # a restart in the middle keeps the count
            mon = UnitMonitor.from_state(json.loads(json.dumps(mon.state_dict())), MACHINE)
        a = mon.update_snapshot(snap(t + (2 + i) * HOUR, machine_signal(rng, rpm=1500), rpm=1500))
        held.append(any("start-up or speed change" in r for r in a.reasons))
        assert HEALTH_ORDER[a.state] < HEALTH_ORDER["warning"]
    assert sum(held) == mon.config.rebaseline_after - 1  # held until the speed had settled, then re-learnt
    assert mon.baseline.ready and mon.base_rpm == pytest.approx(1500, rel=0.01)
    assert "learning baseline" not in " ".join(a.reasons)


def test_the_trends_start_afresh_at_a_new_operating_point() -> None:
    """A settled speed change learns the baseline again; the time-to-failure trends restart too:
    levels measured at the old speed are no part of a trend at the new one (the trend's tiers keep
    up to 64 x 48 snapshots, and read across the change they showed a rise that is none)."""
    mon, rng = _commissioned(13)
    t = 30 * HOUR
    for i in range(40):
        mon.update_snapshot(snap(t + i * HOUR, machine_signal(rng), rpm=RPM))
    changed = t + 40 * HOUR
    relearnt_at = None
    for i in range(mon.config.rebaseline_after + mon.config.warmup + 10):  # re-learnt, then assessed
        ts = changed + i * HOUR
        a = mon.update_snapshot(snap(ts, machine_signal(rng, rpm=1500, gain=2.0), rpm=1500))
        if relearnt_at is None and a.reasons and "re-learning the baseline" in a.reasons[0]:
            relearnt_at = ts
    assert relearnt_at is not None
    for tr in mon.trends.values():
        assert tr.points and min(p[0] for p in tr.points) >= relearnt_at  # nothing from the old speed
        assert all(b[0] >= relearnt_at for tier in tr.coarse for b in tier)


@pytest.mark.parametrize("ts,rpm,reason", [
    (None, RPM, "timestamp None"),
    ("yesterday", RPM, "timestamp 'yesterday'"),
    (float("nan"), RPM, "timestamp nan"),
    (float("inf"), RPM, "timestamp inf"),
    (1e6, "1800", "speed '1800' rpm"),
    (1e6, True, "speed True rpm"),
    (1e6, [RPM], "speed [1800.0] rpm"),
])
def test_a_bad_timestamp_or_speed_is_cannot_assess_not_an_exception(ts, rpm, reason: str) -> None:
    # after commissioning, a timestamp that is not a number used to raise TypeError from the trend
    # fit, and a speed given as text raised TypeError at once: the stream stopped
    mon, rng = _commissioned()
    a = mon.update_snapshot(Snapshot(ts=ts, fs=FS, samples=machine_signal(rng), rpm=rpm))
    assert a.state == "unknown" and a.reasons[0].startswith("cannot assess: ") and reason in a.reasons[0]
    assert mon.update_snapshot(snap(1e6, machine_signal(rng))).state == "healthy"  # the stream goes on
    json.dumps(mon.state_dict(), allow_nan=False)


@pytest.mark.parametrize("ts,values,reason", [
    (None, {"temperature_c": 41.0}, "timestamp None"),
    ("now", {"temperature_c": 41.0}, "timestamp 'now'"),
    (float("nan"), {"temperature_c": 41.0}, "timestamp nan"),
    (1e6, None, "got NoneType"),
    (1e6, [("temperature_c", 41.0)], "got list"),
    (1e6, 41.0, "got float"),
])
def test_bad_scalar_telemetry_is_cannot_assess_not_an_exception(ts, values, reason: str) -> None:
    mon = UnitMonitor(MachineInfo())
    mon.update_scalars(0.0, {"temperature_c": 40.0})
    a = mon.update_scalars(ts, values)
    assert a is not None and a.state == "unknown" and a.reasons[0].startswith("cannot assess: ")
    assert reason in a.reasons[0]
    assert mon.update_scalars(600.0, {"temperature_c": 40.2}).state == "healthy"
    json.dumps(mon.state_dict(), allow_nan=False)  # a NaN time was kept as the series' start before


def test_scalar_names_that_are_not_text_are_left_out() -> None:
    mon = UnitMonitor(MachineInfo())
    assert mon.update_scalars(0.0, {1: 40.0, None: 41.0}) is None  # type: ignore[dict-item]
    a = mon.update_scalars(0.0, {1: 40.0, "temperature_c": 40.0})  # type: ignore[dict-item]
    assert a is not None and a.scores == {"z_temperature_c": 0.0, "anomaly_temperature_c": a.scores["anomaly_temperature_c"]}


@pytest.mark.parametrize("setting,value,message", [
    ("warmup", "30", "warmup must be a whole number, got '30'"),
    ("warmup", None, "warmup must be a whole number, got None"),
    ("warmup", 30.5, "warmup must be a whole number, got 30.5"),
    ("persistence", True, "persistence must be a whole number, got True"),
    ("family_z", "x", "family_z must be a finite number, got 'x'"),
    ("family_db", float("nan"), "family_db must be a finite number, got nan"),
    ("ph_threshold", float("nan"), "ph_threshold must be a finite number, got nan"),
    ("scalar_warmup_s", float("inf"), "scalar_warmup_s must be a finite number, got inf"),
    ("stopped_ratio", None, "stopped_ratio must be a finite number, got None"),
    ("axis", None, "axis must be a string, got None"),
    ("context_keys", "ambient_c", "context_keys must be a list of names, got 'ambient_c'"),
    ("context_keys", ["ambient_c", 3], "context_keys must be a list of names"),
])
def test_a_setting_of_the_wrong_type_is_a_named_error(setting: str, value, message: str) -> None:
    # these were accepted (a NaN threshold that never fires, a text threshold that raised in the
    # middle of the stream, ``context_keys`` read letter by letter) or raised a TypeError naming
    # no setting
    from detectors import MonitorConfig

    with pytest.raises(ValueError) as err:
        UnitMonitor(MACHINE, **{setting: value})
    assert message in str(err.value)
    with pytest.raises(ValueError):
        MonitorConfig(**{setting: value})


def test_settings_of_the_right_type_are_kept_as_given() -> None:
    from detectors import MonitorConfig

    cfg = MonitorConfig(warmup=np.int64(40), family_db=7, alarm_ratio=np.float64(12.0), context_keys=["ambient_c"])
    assert (cfg.warmup, cfg.family_db, cfg.alarm_ratio, cfg.context_keys) == (40, 7, 12.0, ("ambient_c",))
    json.dumps(cfg.as_dict())


def test_a_whole_number_sent_as_a_float_is_taken_as_the_integer() -> None:
    # a model's detector_config is stored as sent ({"smooth": 5.0} passes MonitorConfig.from_overrides)
    # and the service applies it with dataclasses.replace: a float ``smooth`` then raised TypeError
    # (slice indices) on every snapshot of the model's units
    import dataclasses

    from detectors import MonitorConfig

    cfg = dataclasses.replace(MonitorConfig(), smooth=5.0, warmup=12.0)
    assert (cfg.smooth, cfg.warmup) == (5, 12) and isinstance(cfg.smooth, int) and isinstance(cfg.warmup, int)
    mon = UnitMonitor(MACHINE, warmup=12)
    mon.config = cfg
    rng = np.random.default_rng(1)
    states = {mon.update_snapshot(snap(i * HOUR, machine_signal(rng))).state for i in range(20)}
    assert states == {"healthy"}
    mon = UnitMonitor(MACHINE, **json.loads(json.dumps(MonitorConfig().as_dict())))  # as from_state does
    assert mon.config == MonitorConfig()


def _saved_state() -> dict:
    mon, rng = _commissioned(3)
    mon.update_scalars(40 * HOUR, {"temperature_c": 41.0, "ambient_c": 20.0})
    return json.loads(json.dumps(mon.state_dict()))


@pytest.mark.parametrize("corrupt,message", [
    (lambda s: s.pop("baseline"), "'baseline' is missing"),
    (lambda s: s.__setitem__("baseline", "garbage"), "corrupted"),
    (lambda s: s.__setitem__("mv", None), "corrupted"),
    (lambda s: s.__setitem__("iso", {}), "'limits' is missing"),
    (lambda s: s.__setitem__("primary", 5), "corrupted"),
    (lambda s: s.__setitem__("env_band", [1]), "corrupted"),
    (lambda s: s.__setitem__("n_learnt", "x"), "n_learnt must be a whole number, got 'x'"),
    (lambda s: s.__setitem__("hi_buf", None), "hi_buf must be a list of numbers, got None"),
    (lambda s: s.__setitem__("order_buf", {"v9x_mm_s": [1.0]}), "order_buf must map v1x_mm_s, v2x_mm_s, v3x_mm_s"),
    (lambda s: s.__setitem__("order_buf", {"v1x_mm_s": ["x"]}), "order_buf must map"),
    (lambda s: s.__setitem__("snap_state", "great"), "snap_state must be one of healthy, watch, warning, alarm"),
    (lambda s: s.__setitem__("last", {"ts": "x"}), "last must be a saved assessment"),
    (lambda s: s.__setitem__("last", {"ts": 1.0, "state": "warning", "ttf_s": "soon"}), "last.ttf_s must be a number"),
    (lambda s: s["config"].__setitem__("warmup", 2), "warmup must be at least 8"),
    (lambda s: s["config"].__setitem__("foo", 1), "unknown detector setting(s) foo"),
])
def test_a_corrupted_state_is_refused_with_what_is_wrong(corrupt, message: str) -> None:
    # these raised AttributeError / IndexError / KeyError, or were restored and raised later in
    # update_snapshot; the service restores with `except (KeyError, ValueError, TypeError)` and
    # learns a new baseline, so anything else stopped the unit's detection
    state = _saved_state()
    corrupt(state)
    with pytest.raises(ValueError) as err:
        UnitMonitor.from_state(state, MACHINE)
    assert str(err.value).startswith("cannot restore the monitor: ") and message in str(err.value)


@pytest.mark.parametrize("state", [None, [], "{}"])
def test_a_state_that_is_not_a_dict_is_refused(state) -> None:
    with pytest.raises(ValueError, match="its state must be a dict"):
        UnitMonitor.from_state(state, MACHINE)


def test_a_state_after_a_json_round_trip_continues_where_it_stopped() -> None:
    restored = UnitMonitor.from_state(_saved_state(), MACHINE)
    assert restored.baseline.ready
    rng = np.random.default_rng(9)
    a = restored.update_snapshot(snap(41 * HOUR, machine_signal(rng)))
    assert a.state == "healthy" and not any("learning" in r for r in a.reasons)


def test_a_state_saved_before_the_orders_medians_loads_with_them_empty() -> None:
    mon, rng = _commissioned(3)
    for i in range(6):
        mon.update_snapshot(snap((40 + i) * HOUR, machine_signal(rng)))
    state = json.loads(json.dumps(mon.state_dict()))
    assert len(state["order_buf"]["v1x_mm_s"]) == 5
    assert UnitMonitor.from_state(state, MACHINE).order_buf == mon.order_buf
    del state["order_buf"]
    assert UnitMonitor.from_state(state, MACHINE).order_buf == {}
