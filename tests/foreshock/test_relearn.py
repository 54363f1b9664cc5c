"""A person asks for a unit's baseline to be learnt again (``foreshock devices relearn``, ``POST
/units/{id}/relearn``): the request goes through the registry's unit row, and the detection stage, in
whatever process it runs, applies a request newer than the one its saved state last applied, once.

A healthy unit whose structure shows a stable bearing-like line of ~10 dB was warned by the commissioning
check and stayed paused for ever (field feedback raises ``family_db`` by at most 3.5 dB): with
``--accept-current`` the lines it shows now are its normal and it commissions; a line growing above them
warns again. A plain relearn (after a repair) starts a fresh commissioning.

The detection stage runs here with the real registry and alert service on SQLite.
"""

from __future__ import annotations

import numpy as np
import pytest

from alerts.config import AlertConfig
from alerts.service import AlertService
from detectors import MachineInfo, UnitMonitor
from detectors.commissioning import CommissioningCheck
from devices.registry import Registry
from foreshock.detection import DetectionStage
from tests.alerts.helpers import T0, Clock
from tests.detectors.sim import FS, GEO, RPM, machine_signal
from tests.foreshock.messages import vibration_message

STEP_S = 600  # a snapshot every 10 minutes
STABLE_G = 0.2  # an outer-race-like line 7-12 dB above the envelope background: warned, feedback cannot lift it
GROWN_G = 2.0  # the same line grown: 17-19 dB


class Fleet:
    """One unit (model P-1800, bearing GEO) fed snapshots one at a time, the alert clock following; the
    detection stage can be restarted on the same database."""

    def __init__(self, sessions, warmup: int) -> None:
        self.sessions, self.clock, self.seq = sessions, Clock(T0), 0
        self.registry = Registry(sessions)
        self.registry.create_model("P-1800", rated_rpm=RPM, bearing={"n_balls": GEO.n_balls, "ball_d": GEO.ball_d,
                                                                     "pitch_d": GEO.pitch_d},
                                   detector_config={"warmup": warmup})
        self.registry.create_unit("U-1", model="P-1800", customer="ACME")
        self.alerts = AlertService(sessions, clock=self.clock, registry=self.registry, config=AlertConfig())
        self.rng = np.random.default_rng(5)
        self.stage = self.start()

    def start(self) -> DetectionStage:
        # config_refresh_s as in service (5 min): the request must reach the unit through the poll, not that check
        return DetectionStage(self.sessions, registry=self.registry, alerts=self.alerts, relearn_poll_s=0.0)

    def restart(self) -> None:
        self.stage.close()
        self.stage = self.start()

    def one(self, defect: float = STABLE_G):
        self.seq += 1
        ts_ms = int((T0 + self.seq * STEP_S) * 1000)
        self.clock.t = ts_ms / 1000
        self.stage.on_batch([vibration_message(self.seq, ts_ms, machine_signal(self.rng, defect=defect), fs=FS, rpm=RPM)])
        return self.stage._units["U-1"]

    def open_alerts(self) -> list:
        return self.alerts.list_alerts(device_id="U-1")


@pytest.fixture
def fleet(sessions):
    made = []

    def make(warmup: int) -> Fleet:
        made.append(Fleet(sessions, warmup))
        return made[-1]

    yield make
    for f in made:
        f.stage.close()
        f.alerts.close()


def _stuck(fleet: Fleet):
    """Feed the stable line until the commissioning check warns, then 6 more: paused, learning nothing."""
    for _ in range(6):
        u = fleet.one()
        if u.health == "warning":
            break
    assert u.health == "warning" and "BPFO defect lines" in u.latest["reasons"][0], u.latest["reasons"]
    paused_at = u.monitor.n_learnt
    for _ in range(6):
        u = fleet.one()
        assert u.health == "warning" and u.monitor.n_learnt == paused_at
        assert "commissioning paused" in u.latest["reasons"][-1]
    assert fleet.open_alerts()
    return u


def test_relearn_accepting_the_current_lines_commissions_a_unit_stuck_on_a_stable_line_across_a_restart(fleet):
    f = fleet(12)
    _stuck(f)
    # serials in any letter case are the unit's (the CLI and the API resolve them before asking)
    f.registry.request_relearn(f.registry.registered_serial("u-1"), accept_current=True, by="alice",
                               reason="frame resonance, bearing checked")
    u = f.one()
    assert f.stage.stats.relearns == 1
    assert u.latest["reasons"][0] == ("relearn requested by alice: frame resonance, bearing checked (the defect "
                                      "lines it shows now accepted as its normal)")
    assert u.latest["reasons"][-1] == "learning baseline (1/12)"
    assert u.health == "healthy", u.latest["reasons"]
    for _ in range(3):
        u = f.one()
        assert u.health == "healthy", u.latest["reasons"]
    f.restart()  # the acceptance and the request applied are in the saved state
    for _ in range(20):
        u = f.one()
        assert u.health == "healthy", u.latest["reasons"]
        if u.monitor.baseline.ready:
            break
    assert u.monitor.baseline.ready and f.stage.stats.relearns == 0  # not applied again after the restart
    assert f.open_alerts() == []  # the commissioning warning cleared the normal way
    for _ in range(5):  # the learnt line does not warn once the adaptive detectors judge
        assert f.one().health == "healthy"


def test_a_line_grown_8_db_over_the_accepted_level_warns_again_during_commissioning(fleet):
    f = fleet(40)
    _stuck(f)
    f.registry.request_relearn("U-1", accept_current=True, by="alice", reason="frame resonance")
    for _ in range(6):
        assert f.one().health == "healthy"
    accepted = f.stage._units["U-1"].monitor.commissioning.accepted["bpfo"]
    assert 7.0 < accepted < 12.0  # the stable line's level
    for _ in range(6):
        u = f.one(GROWN_G)
        if u.health == "warning":
            break
    assert u.health == "warning", u.latest["reasons"]
    said = [r for r in u.latest["reasons"] if "BPFO defect lines" in r]
    assert said and "accepted as this unit's normal at its relearn" in said[0], u.latest["reasons"]
    assert "commissioning paused" in u.latest["reasons"][-1] and not u.monitor.baseline.ready


def test_a_plain_relearn_starts_a_fresh_commissioning_once(fleet):
    f = fleet(12)
    for _ in range(40):
        u = f.one(defect=0.0)
        if u.monitor.baseline.ready:
            break
    assert u.monitor.baseline.ready and u.health == "healthy"
    f.registry.request_relearn("U-1", by="bob", reason="new bearing")
    asked = f.registry.relearn_request("U-1")["requested_at"]
    assert f.stage.relearn_applied("U-1") is None  # asked, not applied yet
    u = f.one(defect=0.0)
    assert f.stage.relearn_applied("U-1") == asked  # what the unit detail's "applied" reads
    assert not u.monitor.baseline.ready and u.monitor.n_learnt == 1
    assert u.latest["reasons"][0] == "relearn requested by bob: new bearing"
    assert u.latest["reasons"][-1] == "learning baseline (1/12)"
    assert u.monitor.axis == "x" and u.monitor.config.warmup == 12 and u.monitor.machine.bearing is not None
    assert u.monitor.commissioning.accepted is None
    for _ in range(3):
        u = f.one(defect=0.0)
    assert u.monitor.n_learnt == 4
    f.restart()
    u = f.one(defect=0.0)
    assert u.monitor.n_learnt == 5 and f.stage.stats.relearns == 0  # the request is not applied twice
    assert u.latest["reasons"][0] == "relearn requested by bob: new bearing"  # until the baseline is learnt
    for _ in range(8):
        u = f.one(defect=0.0)
    assert u.monitor.baseline.ready and u.health == "healthy"
    assert not any("relearn" in r for r in u.latest["reasons"])
    f.registry.request_relearn("U-1", by="bob", reason="realigned")  # a newer request is applied
    u = f.one(defect=0.0)
    assert u.monitor.n_learnt == 1 and f.stage.stats.relearns == 1


def test_a_plain_relearn_of_a_unit_with_accepted_lines_does_not_keep_them(fleet):
    f = fleet(40)
    _stuck(f)
    f.registry.request_relearn("U-1", accept_current=True)
    assert f.one().health == "healthy"
    assert f.stage._units["U-1"].latest["reasons"][0] == ("relearn requested (the defect lines it shows now "
                                                           "accepted as its normal)")
    f.registry.request_relearn("U-1", reason="new bearing")  # and the line is still there: it warns again
    for _ in range(6):
        u = f.one()
        if u.health == "warning":
            break
    assert u.health == "warning" and u.monitor.commissioning.accepted is None, u.latest["reasons"]


def test_the_check_accepts_each_familys_level_and_warns_only_family_db_above_it():
    chk = CommissioningCheck(persistence=3, family_db=6.0)

    def line(db: float, mode: str = "outer_race"):
        return mode, 0.9, [{"family": "summary", "scores": {"bpfo": db, "bpfi": 1.0, "bsf": -2.0}}]

    assert [chk.update(600.0 * i, 0.1, line(10.0)).level for i in range(3)] == [0, 0, 2]  # as before
    chk = CommissioningCheck(persistence=3, family_db=6.0)
    chk.accept()
    levels = [chk.update(600.0 * i, 0.1, line(db)).level for i, db in enumerate([10.0, 9.0, 11.0, 15.9, 15.9, 15.9])]
    assert levels == [0] * 6 and chk.accepted == {"bpfo": 10.0, "bpfi": 1.0, "bsf": -2.0}
    assert [chk.update(600.0 * i, 0.1, line(18.0)).level for i in range(6, 9)] == [0, 0, 2]  # 8 dB over it
    # a family accepted below the background still warns at family_db (never more sensitive than before)
    ball = "ball", 0.9, [{"family": "summary", "scores": {"bpfo": 10.0, "bpfi": 1.0, "bsf": 6.5}}]
    assert [chk.update(600.0 * i, 0.1, ball).level for i in range(9, 15)][-1] == 2
    restored = CommissioningCheck(persistence=3, family_db=6.0)
    restored.load(chk.state_dict())
    assert restored.accepted == chk.accepted and restored.accept_seen is None


def test_states_saved_before_relearn_existed_load_as_before(sessions):
    mon = UnitMonitor(MachineInfo(rated_rpm=RPM, bearing=GEO), warmup=12)
    state = mon.state_dict()
    for key in ("accepted", "accept_seen"):
        del state["commissioning"][key]
    restored = UnitMonitor.from_state(state, MachineInfo(rated_rpm=RPM, bearing=GEO))
    assert restored.commissioning.accepted is None and restored.commissioning.accept_seen is None
    with pytest.raises(ValueError, match="commissioning.accepted"):
        UnitMonitor.from_state({**state, "commissioning": {**state["commissioning"], "accepted": {"bpfx": 1.0}}})


def test_the_request_applied_is_saved_with_the_state_and_the_poll_is_what_makes_it_prompt(fleet, sessions):
    import json

    from foreshock.models import DetectorState

    def saved() -> dict:
        with sessions() as session:
            return json.loads(session.get(DetectorState, "U-1").state_json)

    f = fleet(12)
    f.stage.close()
    f.stage = DetectionStage(sessions, registry=f.registry, alerts=f.alerts, relearn_poll_s=3600.0)
    f.one(defect=0.0)
    f.one(defect=0.0)
    f.stage.flush()
    assert "relearn" not in saved()  # as before requests existed (an older state has none either)
    f.registry.request_relearn("U-1", reason="new bearing")
    # polled at the start only, and the unit's configuration is checked every 5 minutes: not applied yet
    assert f.one(defect=0.0).monitor.n_learnt == 3 and f.stage.stats.relearns == 0
    f.restart()  # loading the unit applies its configuration, and the request with it
    u = f.one(defect=0.0)
    assert u.monitor.n_learnt == 1 and f.stage.stats.relearns == 1
    f.stage.flush()
    assert saved()["relearn"] == f.registry.relearn_request("U-1")["requested_at"]


def test_after_a_repair_a_plain_relearn_clears_the_open_alert_the_normal_way(fleet):
    f = fleet(12)
    _stuck(f)  # a bearing defect found in commissioning: warning, alert open
    f.registry.request_relearn("U-1", by="carol", reason="outer race replaced")
    # the repaired machine: healthy from its first snapshot (a held commissioning warning would come down only
    # after 3 calmer snapshots), and the alert clears as the alert service clears one (healthy assessments)
    for _ in range(8):
        u = f.one(defect=0.0)
        assert u.health == "healthy", u.latest["reasons"]
        if not f.open_alerts():
            break
    assert f.open_alerts() == []
    assert u.latest["reasons"][0] == "relearn requested by carol: outer race replaced"
    assert f.stage.stats.relearns == 1
