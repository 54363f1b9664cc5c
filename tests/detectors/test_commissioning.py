"""A fault present or growing while a unit's baseline is learnt (``detectors.commissioning``).

Found by ``bench/fleet_soak.py``: 8 of the 49 simulated units that failed stayed ``healthy`` to the
end. Their bearing faults began in the first hours, stops stretched the commissioning (no snapshot
while stopped), and the monitor learnt the growing fault as the unit's normal; the ISO zones, the
only judge of a commissioning, were reached one snapshot before failure or not at all.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors import MachineInfo, UnitMonitor
from detectors.commissioning import CommissioningCheck
from detectors.types import HEALTH_ORDER
from tests.detectors.sim import GEO, RPM, machine_signal, snap

MACHINE = MachineInfo(rated_rpm=RPM, bearing=GEO)
STEP = 600.0  # a snapshot every 10 minutes, as the soak's fleet


def _stream_with_a_stop(seed: int, defect_at: list[float], *, family: str = "bpfo", gain_at=None):
    """10 healthy snapshots, a stop of 2 hours (nothing sent, as a unit does), then one snapshot
    per value of ``defect_at`` (g) and ``gain_at``: the commissioning (warmup 30) never completes."""
    rng = np.random.default_rng(seed)
    t = 0.0
    for _ in range(10):
        yield snap(t, machine_signal(rng))
        t += STEP
    t += 2 * 3600.0
    gains = gain_at or [1.0] * len(defect_at)
    for d, g in zip(defect_at, gains, strict=True):
        yield snap(t, machine_signal(rng, defect=d, family=family, gain=g))
        t += STEP


def test_a_bearing_defect_growing_through_an_interrupted_commissioning_is_warned_and_named() -> None:
    mon = UnitMonitor(MACHINE)
    defect = [0.03 * np.exp(i / 4) for i in range(14)]  # from a trace to 0.76 g in 14 snapshots
    seen = [mon.update_snapshot(s) for s in _stream_with_a_stop(0, defect)]
    assert not mon.baseline.ready  # still commissioning at the end, as the soak's units were
    warned = [a for a in seen if HEALTH_ORDER[a.state] >= HEALTH_ORDER["warning"]]
    assert warned, [a.reasons for a in seen[-3:]]  # the old monitor: 'healthy', learning baseline, to the end
    first = seen.index(warned[0])
    assert first <= len(seen) - 5, first  # hours before the end, not at it
    assert warned[0].failure_mode == "outer_race" and warned[0].evidence
    assert "BPFO defect lines" in warned[0].reasons[0]
    assert all(a.state != "healthy" for a in seen[first:])  # held, not flapping
    assert "commissioning paused" in seen[-1].reasons[-1]
    # nothing learnt from the first warning on: the fault is not the unit's normal
    assert mon.n_learnt == round(warned[0].scores["commissioning_progress"] * 30) < 30


def test_broadband_growth_during_commissioning_is_warned_once_it_keeps_rising() -> None:
    mon = UnitMonitor(MACHINE)
    gains = [1.25 ** i for i in range(14)]  # every line and the noise grow 25 % a snapshot
    seen = [mon.update_snapshot(s) for s in _stream_with_a_stop(1, [0.0] * 14, gain_at=gains)]
    states = [a.state for a in seen]
    assert "warning" in states or "alarm" in states, states
    warn = next(a for a in seen if a.state in ("warning", "alarm"))
    assert "and rising" in warn.reasons[0] and "start of commissioning" in warn.reasons[0]


def test_a_level_step_during_commissioning_is_learnt_not_warned() -> None:
    """A unit whose load (and vibration) steps up 3x during its commissioning and stays there is
    at watch at most, is learnt, and is healthy once commissioned."""
    rng = np.random.default_rng(2)
    mon = UnitMonitor(MACHINE)
    seen = [mon.update_snapshot(snap(i * STEP, machine_signal(rng, gain=1.0 if i < 8 else 3.0))) for i in range(60)]
    assert max(HEALTH_ORDER[a.state] for a in seen) <= HEALTH_ORDER["watch"], \
        [a.reasons for a in seen if a.state in ("warning", "alarm")][:1]
    assert mon.baseline.ready
    assert [a.state for a in seen[-10:]] == ["healthy"] * 10


def test_a_healthy_commissioning_says_so_with_its_progress() -> None:
    rng = np.random.default_rng(3)
    mon = UnitMonitor(MACHINE, warmup=10)
    seen = [mon.update_snapshot(snap(i * STEP, machine_signal(rng))) for i in range(12)]
    assert [a.state for a in seen] == ["healthy"] * 12
    assert seen[3].reasons == ["learning baseline (4/10)"] and seen[3].scores["commissioning_progress"] == 0.4
    assert "commissioning_progress" not in seen[-1].scores


def test_a_restart_during_a_warned_commissioning_keeps_the_warning() -> None:
    mon = UnitMonitor(MACHINE)
    defect = [0.03 * np.exp(i / 4) for i in range(14)]
    stream = list(_stream_with_a_stop(4, defect))
    for s in stream[:-3]:
        a = mon.update_snapshot(s)
    assert a.state == "warning", a.reasons
    again = UnitMonitor.from_state(json.loads(json.dumps(mon.state_dict())), MACHINE)
    assert again.commissioning.confirmed == "outer_race"
    assert [again.update_snapshot(s).state for s in stream[-3:]] == ["warning"] * 3
    bad = json.loads(json.dumps(mon.state_dict()))
    bad["commissioning"]["part"] = "outer"
    with pytest.raises(ValueError, match="commissioning.part must be a bearing part"):
        UnitMonitor.from_state(bad, MACHINE)


def test_check_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="warning_ratio must be > 1.6"):
        CommissioningCheck(warning_ratio=1.5)


@pytest.mark.parametrize(("mode", "scores", "named"), [
    ("ball", {"bpfo": 2.5, "bpfi": 2.4, "bsf": 4.8}, "anomaly"),  # chance lines in a broadband rise
    ("ball", {"bpfo": 2.5, "bpfi": 2.4, "bsf": 7.0}, "ball"),  # lines that stand out as the lines' rule asks
    ("misalignment", {"bpfo": 0.0, "bpfi": 0.0, "bsf": 0.0}, "misalignment"),  # a shaft pattern: named as found
])
def test_a_growth_during_commissioning_is_named_by_a_bearing_part_only_on_clear_lines(mode, scores, named) -> None:
    """Found on an engineer's fleet: a lubrication loss that began while its unit commissioned was
    warned by its RMS growth and named `ball` from a BSF line 4.8 dB above the background (the
    lines' own rule asks for `family_db`, 6 dB); the first name sticks, so the unit kept it."""
    chk = CommissioningCheck(smooth=1, persistence=3)
    diagnosis = (mode, 0.4, [{"family": "summary", "scores": scores}])
    for i in range(3):
        chk.update(600.0 * i, 0.1, None)
    found = [chk.update(600.0 * i, 0.1 * 1.5 ** (i - 2), diagnosis) for i in range(3, 8)]
    warned = [f for f in found if f.level >= 2]
    assert warned and any("and rising" in r for f in warned for r in f.reasons)
    assert {f.mode for f in found if f.level >= 1} == {named}
