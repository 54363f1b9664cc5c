"""Field feedback reaches the commissioning check: a healthy unit whose structure shows a bearing-like line is not
stuck in warning, its commissioning paused, for ever (``DetectionStage.unit_config``).

The baseline-free check warns on defect lines ``family_db`` (6 dB) above the envelope background on three
snapshots in a row, and a unit in warning learns nothing. The feedback factor of false-alarm verdicts raised
only ``watch_ratio`` and ``warning_ratio``: a stable line at 7 dB kept the unit in warning whatever the
technicians found. The factor now raises ``family_db`` by ``20 log10 factor`` too, capped per unit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from alerts.config import AlertConfig
from alerts.service import AlertService
from detectors import MachineInfo
from detectors.config import MonitorConfig
from foreshock.detection import DetectionStage
from tests.alerts.helpers import T0, Clock
from tests.detectors.sim import FS, GEO, RPM, machine_signal
from tests.foreshock.messages import vibration_message

STEP_S = 600  # a snapshot every 10 minutes
LINE_G = 0.13  # an outer-race-like line 6-8 dB above the envelope background (9.3 dB at most), never growing


class Registry:
    """What the detection stage and the alert service use of the registry, for one unit of a model."""

    def __init__(self, config: dict | None = None) -> None:
        self.config = config or {}

    def machine_info(self, device_id):
        return MachineInfo(rated_rpm=RPM, bearing=GEO)

    def detector_config(self, device_id):
        return dict(self.config)

    def mark_seen(self, device_id, ts_ms):
        pass

    def record_status(self, *a, **kw):
        pass

    def get_unit(self, device_id):
        return {"model": "P-1800", "batch": "B1", "firmware": "1.0", "customer": "ACME"}

    def silent_units(self, now_ms):
        return []


class Feed:
    """Snapshots of one unit whose machine shows a stable line, one at a time, the alert clock following."""

    def __init__(self, stage: DetectionStage, clock: Clock) -> None:
        self.stage, self.clock, self.seq = stage, clock, 0
        self.rng = np.random.default_rng(5)

    def one(self):
        self.seq += 1
        ts_ms = int((T0 + self.seq * STEP_S) * 1000)
        self.clock.t = ts_ms / 1000
        self.stage.on_batch([vibration_message(self.seq, ts_ms, machine_signal(self.rng, defect=LINE_G), fs=FS, rpm=RPM)])
        return self.stage._units["U-1"]


@pytest.fixture
def unit(sessions):
    clock = Clock(T0)
    alerts = AlertService(sessions, clock=clock, registry=Registry(), config=AlertConfig(feedback_step=0.5))
    stage = DetectionStage(sessions, registry=Registry({"warmup": 12}), alerts=alerts, config_refresh_s=0.0)
    yield Feed(stage, clock), alerts
    stage.close()
    alerts.close()


def test_a_false_alarm_on_a_commissioning_warning_lets_a_stable_line_be_learnt_and_the_warning_clear(unit):
    feed, alerts = unit
    for _ in range(6):
        u = feed.one()
        if u.health == "warning":
            break
    assert u.health == "warning", u.latest["reasons"]
    assert "BPFO defect lines" in u.latest["reasons"][0] and "commissioning paused" in u.latest["reasons"][-1]
    [ticket] = alerts.list_tickets(device_id="U-1")
    paused_at = u.monitor.n_learnt
    for _ in range(6):  # nobody has judged it: the unit stays in warning and learns nothing
        u = feed.one()
        assert u.health == "warning" and u.monitor.n_learnt == paused_at

    alerts.record_feedback(ticket["number"], "false_alarm", actor="tech", cause="nothing found: a frame resonance")
    assert alerts.threshold_factor("U-1") == pytest.approx(1.5)
    for _ in range(40):
        u = feed.one()
        if u.monitor.baseline.ready and u.health == "healthy" and not alerts.list_alerts(device_id="U-1"):
            break
    # the old code: warning and 'commissioning paused' to the end, the alert open
    assert u.monitor.baseline.ready, u.latest["reasons"]
    assert u.health == "healthy", u.latest["reasons"]
    assert alerts.list_alerts(device_id="U-1") == []  # the warning cleared
    assert u.monitor.config.family_db == pytest.approx(MonitorConfig().family_db + 20 * math.log10(1.5))
    for _ in range(5):  # and the learnt line does not warn again once the adaptive detectors judge
        assert feed.one().health == "healthy"


@pytest.mark.parametrize(("model", "factor", "expected"), [
    ({}, 1.5, 1.5),  # the defaults: sqrt(10 / 2.5) = 2 leaves 1.5 as it is
    ({}, 2.0, 2.0),
    ({"warning_ratio": 5.0, "alarm_ratio": 6.0}, 2.0, math.sqrt(6.0 / 5.0)),  # warning 10 >= alarm 6 before
    ({"warning_ratio": 3.0, "alarm_ratio": 6.0, "watch_ratio": 2.0}, 1.2, 1.2),
])
def test_the_feedback_factor_is_capped_per_unit_so_its_warning_stays_below_its_alarm(sessions, model, factor,
                                                                                      expected):
    class Alerts:
        def threshold_factor(self, device_id):
            return factor

        def handle_assessment(self, *a, **kw):
            return []

    stage = DetectionStage(sessions, registry=Registry({"warmup": 12, **model}), alerts=Alerts())
    feed = Feed(stage, Clock(T0))
    c = feed.one().monitor.config
    own = MonitorConfig.from_overrides({"warmup": 12, **model})
    assert c.warmup == 12  # the model's own settings are applied (the old code: all refused, with a log line)
    assert c.warning_ratio == pytest.approx(own.warning_ratio * expected)
    assert c.watch_ratio == pytest.approx(own.watch_ratio * expected)
    assert c.family_db == pytest.approx(own.family_db + 20 * math.log10(expected))
    assert c.alarm_ratio == own.alarm_ratio and c.warning_ratio < c.alarm_ratio
