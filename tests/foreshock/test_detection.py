"""The detection stage: per-unit configuration and field feedback, idempotence, state across restarts."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.config import MonitorConfig
from devices.protocol import ParsedMessage, TelemetryRecord, VibrationSnapshot
from foreshock.detection import DetectionStage
from ingest.types import IngestedMessage


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

    def record_status(self, *a):
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
    snap = VibrationSnapshot(ts_ms=ts_ms, seq=seq, axis="x", fs=25600.0,
                             samples=rng.normal(0, 0.05, 2560).astype(np.float32), rpm=1800.0)
    parsed = ParsedMessage("U-1", "vibration", snapshot=snap)
    return IngestedMessage("U-1", "vibration", parsed, None, ts_ms / 1000, "foreshock/v1/U-1/vibration")


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
