"""The detection stage: per-unit configuration and field feedback, idempotence, state across restarts."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.config import MonitorConfig
from devices.protocol import ParsedMessage, TelemetryRecord
from foreshock.detection import DetectionStage
from ingest.types import IngestedMessage
from tests.foreshock.messages import vibration_message


class FakeRegistry:
    def __init__(self, config=None):
        self.config = config or {}
        self.seen = []

    def machine_info(self, device_id):
        return None

    def detector_config(self, device_id):
        return dict(self.config)

    def mark_seen(self, device_id, ts_ms):
        self.seen.append(ts_ms)

    def record_status(self, *a, **kw):
        pass


class FakeAlerts:
    def __init__(self, factor=1.0):
        self.factor = factor
        self.calls = []

    def threshold_factor(self, device_id):
        return self.factor

    def handle_assessment(self, device_id, assessment, *, source_key):
        self.calls.append(source_key)
        return []


def vib(seq: int, ts_ms: int, rng) -> IngestedMessage:
    return vibration_message(seq, ts_ms, rng.normal(0, 0.05, 2560))


def tel(seq: int, ts_ms: int) -> IngestedMessage:
    parsed = ParsedMessage("U-1", "telemetry", records=(TelemetryRecord(ts_ms, seq, {"temperature_c": 40.0}),))
    return IngestedMessage("U-1", "telemetry", parsed, None, ts_ms / 1000, "foreshock/v1/U-1/telemetry")


def test_model_config_and_feedback_factor_reach_the_monitor(sessions):
    alerts = FakeAlerts(factor=1.5)
    stage = DetectionStage(sessions, registry=FakeRegistry({"warmup": 12}), alerts=alerts)
    stage.on_batch([vib(1, 1_795_000_000_000, np.random.default_rng(0))])
    monitor = stage._units["U-1"].monitor
    assert monitor.config.warmup == 12
    assert monitor.config.warning_ratio == pytest.approx(MonitorConfig().warning_ratio * 1.5)
    assert monitor.config.watch_ratio == pytest.approx(MonitorConfig().watch_ratio * 1.5)
    assert monitor.config.alarm_ratio == MonitorConfig().alarm_ratio  # the failure limit is physics, not taste


def test_bad_model_config_is_reported_not_raised(sessions, caplog):
    stage = DetectionStage(sessions, registry=FakeRegistry({"warmup": 2}), alerts=FakeAlerts())
    stage.on_batch([vib(1, 1_795_000_000_000, np.random.default_rng(0))])
    assert stage.stats.snapshots == 1 and stage.stats.errors == 0
    assert "warmup" in caplog.text


def test_redelivered_and_older_messages_are_not_learnt_twice(sessions):
    alerts = FakeAlerts()
    stage = DetectionStage(sessions, registry=FakeRegistry(), alerts=alerts)
    rng = np.random.default_rng(1)
    t0 = 1_795_000_000_000
    first = [vib(i, t0 + i * 600_000, rng) for i in range(5)]
    stage.on_batch(first)
    stage.on_batch(first[2:])  # the broker redelivers part of the batch
    stage.on_batch([tel(1, t0), tel(2, t0 + 1000), tel(2, t0 + 1000)])
    assert stage.stats.snapshots == 5 and stage.stats.records == 2
    assert stage.stats.skipped_old == 4
    assert len(alerts.calls) == len(set(alerts.calls))


def test_state_survives_a_restart(sessions):
    rng = np.random.default_rng(2)
    t0 = 1_795_000_000_000
    stage = DetectionStage(sessions, registry=FakeRegistry(), alerts=FakeAlerts())
    stage.on_batch([vib(i, t0 + i * 600_000, rng) for i in range(40)])
    learnt = stage._units["U-1"].monitor.state_dict()
    stage.close()

    again = DetectionStage(sessions, registry=FakeRegistry(), alerts=FakeAlerts())
    again.on_batch([vib(39, t0 + 39 * 600_000, rng)])  # a redelivery after the restart is skipped
    assert again.stats.skipped_old == 1
    assert again._units["U-1"].monitor.state_dict() == learnt
    assert again.health_of("U-1") is not None


def vib_axis(seq: int, ts_ms: int, axis: str, samples: np.ndarray) -> IngestedMessage:
    return vibration_message(seq, ts_ms, samples, axis=axis)


def test_a_triaxial_unit_is_assessed_on_one_axis_not_three_interleaved(sessions):
    """x, y and z a millisecond apart, y a copy of x (a sensor that copies one channel), z three
    times larger: fed as one stream, y looked like a stuck sensor and z like a machine whose level
    jumps every snapshot. The stage follows the first axis and leaves the others to storage."""
    rng = np.random.default_rng(2)
    stage = DetectionStage(sessions, registry=FakeRegistry({"warmup": 8}), alerts=FakeAlerts())
    msgs = []
    for i in range(20):
        x = rng.normal(0, 0.05, 2560)
        ts = 1_700_000_000_000 + i * 60_000
        # sent one after the other, a millisecond apart
        msgs += [vib_axis(3 * i, ts, "x", x), vib_axis(3 * i + 1, ts + 1, "y", x), vib_axis(3 * i + 2, ts + 2, "z", x * 3)]
    stage.on_batch(msgs)
    assert stage.stats.snapshots == 20 and stage.stats.other_axes == 40
    a = stage._units["U-1"].monitor.last
    assert a.sensor_fault is None and a.state == "healthy", (a.state, a.reasons)


def test_the_configured_axis_is_followed_and_a_change_relearns(sessions):
    rng = np.random.default_rng(3)
    registry = FakeRegistry({"warmup": 8, "axis": "y"})
    stage = DetectionStage(sessions, registry=registry, alerts=FakeAlerts())
    ts0 = 1_700_000_000_000
    stage.on_batch([vib_axis(i, ts0 + i * 60_000, ax, rng.normal(0, 0.05, 2560)) for i in range(12) for ax in "xy"])
    mon = stage._units["U-1"].monitor
    assert mon.axis == "y" and stage.stats.snapshots == 12 and mon.n_learnt >= 8
    mon.config = MonitorConfig(warmup=8, axis="x")  # as a changed detector_config is applied
    assert mon.follows("x") and mon.n_learnt == 0 and "axis 'x'" in mon.relearn_note
    assert not mon.follows("y")


def test_the_followed_axis_survives_a_restart(sessions):
    from detectors import MachineInfo, UnitMonitor

    mon = UnitMonitor(MachineInfo(rated_rpm=1800))
    assert mon.follows("z") and not mon.follows("x")
    again = UnitMonitor.from_state(mon.state_dict())
    assert again.follows("z") and not again.follows("x")


def test_a_save_tells_its_listener_which_units_now_have_new_health(sessions, caplog):
    """The dashboard re-read health only on alert and ticket events; ``on_saved`` lets the service
    announce each save of new assessments (the API reads them from the saved state)."""
    rng = np.random.default_rng(4)
    t0 = 1_795_000_000_000
    saved: list[list[tuple[str, str]]] = []
    stage = DetectionStage(sessions, registry=FakeRegistry(), alerts=FakeAlerts(), on_saved=saved.append,
                           flush_on_batch=False)
    stage.on_batch([vib(i, t0 + i * 600_000, rng) for i in range(3)])
    assert saved == []  # nothing written yet, nothing announced
    stage.flush()
    assert saved == [[("U-1", stage._units["U-1"].health)]] and saved[0][0][1] == "healthy"
    stage.flush()  # nothing new since: no announcement
    assert len(saved) == 1

    def broken(_):
        raise RuntimeError("listener down")

    failing = DetectionStage(sessions, registry=FakeRegistry(), alerts=FakeAlerts(), on_saved=broken,
                             flush_on_batch=False)
    failing.on_batch([vib(10 + i, t0 + (10 + i) * 600_000, rng) for i in range(2)])
    failing.flush()  # the state is written all the same; the failure is logged
    assert failing.health_of("U-1") is not None and not failing._units["U-1"].dirty
    assert "the listener of saved health failed" in caplog.text


def test_a_unit_the_database_cannot_load_is_one_log_line_not_a_traceback(caplog):
    """With PostgreSQL cut off, each message of a unit whose state was not loaded yet (and each status
    message) logged a traceback of about 60 lines."""
    import logging

    from sqlalchemy.exc import OperationalError

    def down():
        raise OperationalError("SELECT 1", {}, Exception("connection refused\nmore"))

    stage = DetectionStage(down, registry=FakeRegistry(), alerts=FakeAlerts())
    with caplog.at_level(logging.ERROR, logger="foreshock.detection"):
        stage.on_batch([tel(1, 1_795_000_000_000)])
    [record] = caplog.records
    assert record.exc_info is None and stage.stats.errors == 1
    assert record.getMessage() == ("detection failed for U-1 (telemetry): database unavailable (OperationalError: "
                                   "connection refused); trying again later")


def test_a_unit_whose_clock_went_back_is_said_once_an_hour_not_silently_unassessed(sessions, caplog, monkeypatch):
    """A unit whose clock jumped back an hour had its messages stored but not fed to the detectors for
    that hour, and nothing said so (only the unexported `skipped_old` counted them)."""
    import logging

    import foreshock.detection as detection_mod

    now = [1000.0]
    monkeypatch.setattr(detection_mod.time, "monotonic", lambda: now[0])
    stage = DetectionStage(sessions, registry=FakeRegistry(), alerts=FakeAlerts())
    t0 = 1_795_000_000_000
    with caplog.at_level(logging.WARNING, logger="foreshock.detection"):
        stage.on_batch([tel(1, t0), tel(2, t0 + 60_000)])
        stage.on_batch([tel(2, t0 + 60_000), tel(3, t0 + 30_000)])  # a duplicate, one overtaken: not said
        assert caplog.records == [] and stage.stats.skipped_old == 2
        stage.on_batch([tel(4 + i, t0 + 60_000 - 3_600_000 + i * 60_000) for i in range(3)])  # an hour back
        now[0] += 1800
        stage.on_batch([tel(7, t0 + 60_000 - 3_600_000 + 3 * 60_000)])  # within the hour: counted, not said
        now[0] += 1801
        stage.on_batch([tel(8, t0 + 60_000 - 3_600_000 + 4 * 60_000)])
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "U-1: 1 message(s) stored but not assessed: older than the newest its detectors learnt from (telemetry at "
        "2026-11-18T11:07:40Z), this one by 3600 s. Its clock may have gone back; it is assessed again once its "
        "messages are newer than that",
        "U-1: 4 message(s) stored but not assessed: older than the newest its detectors learnt from (telemetry at "
        "2026-11-18T11:07:40Z), this one by 3360 s. Its clock may have gone back; it is assessed again once its "
        "messages are newer than that",
    ]
    assert stage.stats.skipped_old == 7


def test_a_models_new_machine_data_reaches_a_running_units_detectors_keeping_what_they_learnt(sessions, caplog):
    """`devices models update P-1800 --rated-rpm 1500` (or the API) changed the registry only: the running
    service's detectors kept the rated speed and bearing they had loaded the unit with until a restart."""
    import logging

    from detectors.types import BearingGeometry, MachineInfo

    old = MachineInfo(rated_rpm=1800.0, bearing=BearingGeometry(n_balls=9, ball_d=7.94, pitch_d=39.04))
    new = MachineInfo(rated_rpm=1500.0, bearing=BearingGeometry(n_balls=8, ball_d=6.75, pitch_d=28.5), iso_group=1)

    class Registry(FakeRegistry):
        machine = old

        def machine_info(self, device_id):
            return self.machine

    registry = Registry()
    stage = DetectionStage(sessions, registry=registry, alerts=FakeAlerts(), config_refresh_s=0.0)
    rng = np.random.default_rng(0)
    stage.on_batch([vib(1, 1_795_000_000_000, rng), tel(2, 1_795_000_001_000)])
    monitor = stage._units["U-1"].monitor
    assert monitor.machine == old
    learnt = monitor.state_dict()
    registry.machine = new
    with caplog.at_level(logging.INFO, logger="foreshock.detection"):
        stage.on_batch([tel(2, 1_795_000_001_000)])  # a redelivery: nothing learnt, the data still applied
    monitor = stage._units["U-1"].monitor
    assert monitor.machine == new
    assert monitor.state_dict() == learnt  # nothing relearnt
    assert "U-1: the machine data of its model changed; its detectors go on with the new data" in caplog.messages


def test_a_configuration_check_the_database_cannot_answer_is_one_log_line(sessions, caplog):
    """Every unit's periodic configuration check logged a traceback while the database was down."""
    import logging

    from sqlalchemy.exc import OperationalError

    class Down(FakeRegistry):
        down = False

        def detector_config(self, device_id):
            if self.down:
                raise OperationalError("SELECT 1", {}, Exception("connection refused\nmore"))
            return {}

    registry = Down()
    stage = DetectionStage(sessions, registry=registry, alerts=FakeAlerts(), config_refresh_s=0.0)
    stage.on_batch([tel(1, 1_795_000_000_000)])
    registry.down = True
    with caplog.at_level(logging.ERROR, logger="foreshock.detection"):
        stage.on_batch([tel(2, 1_795_000_060_000)])
    [record] = caplog.records
    assert record.exc_info is None and stage.stats.records == 2  # the unit is still assessed
    assert record.getMessage() == ("detector configuration of U-1 unavailable; keeping the current one: database "
                                   "unavailable (OperationalError: connection refused); trying again later")
