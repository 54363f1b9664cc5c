"""Page-Hinkley: a sustained rise is signalled and, with ``cap``, forgotten once it has ended."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors import MachineInfo, UnitMonitor
from detectors.monitor import PH_CAP
from detectors.pagehinkley import PageHinkley
from tests.detectors.sim import GEO, RPM, feed, machine_signal, snap

HOUR = 3600.0


def _excursion(ph: PageHinkley, rng: np.random.Generator) -> list[bool]:
    """Calm (z ~ N(0, 0.5)), 48 values at z ≈ 20 (a rise of some hours), then calm again: the
    detections after the rise."""
    for _ in range(100):
        ph.update(rng.normal(0, 0.5))
    rise = [ph.update(20.0 + rng.normal(0, 0.5)) for _ in range(48)]
    assert rise[-1], "the rise itself must be signalled"
    return [ph.update(rng.normal(0, 0.5)) for _ in range(200)]


def test_a_rise_that_has_ended_is_forgotten_with_a_cap() -> None:
    after = _excursion(PageHinkley(delta=1.0, threshold=50.0, mean=0.0, cap=2.0), np.random.default_rng(0))
    # capped at 100, the statistic falls by ~delta = 1 per calm value: under 50 after ~50 values
    assert 40 <= after.index(False) <= 60 and not any(after[60:]), after.index(False)


def test_the_cap_does_not_change_when_a_rise_is_first_signalled() -> None:
    rng = np.random.default_rng(3)
    stream = [*rng.normal(0, 0.5, 100), *(np.linspace(0, 6, 200) + rng.normal(0, 1.0, 200))]
    plain, capped = PageHinkley(delta=1.0, threshold=50.0), PageHinkley(delta=1.0, threshold=50.0, cap=2.0)
    first = [next(i for i, x in enumerate(stream) if ph.update(x)) for ph in (plain, capped)]
    assert first[0] == first[1]


def test_without_a_cap_the_test_keeps_signalling_long_after_the_rise() -> None:
    # the behaviour the cap exists for: the statistic falls by delta per value once the stream is calm
    after = _excursion(PageHinkley(delta=1.0, threshold=50.0, mean=0.0), np.random.default_rng(0))
    assert all(after)


@pytest.mark.parametrize("shift", [1.5, 2.0, 4.0])
def test_a_small_sustained_shift_is_still_signalled_and_held(shift: float) -> None:
    rng = np.random.default_rng(1)
    ph = PageHinkley(delta=1.0, threshold=50.0, mean=0.0, cap=2.0)
    for _ in range(100):
        ph.update(rng.normal(0, 0.5))
    seen = [ph.update(shift + rng.normal(0, 0.5)) for _ in range(400)]
    first = seen.index(True)
    assert all(seen[first:]), f"a sustained shift of {shift} lost its signal at {seen.index(False, first)}"


def test_the_cap_survives_the_state_and_is_checked() -> None:
    ph = PageHinkley(delta=1.0, threshold=50.0, mean=0.0, cap=2.0)
    for _ in range(60):
        ph.update(20.0)
    assert ph.statistic == 100.0
    back = PageHinkley.from_state(json.loads(json.dumps(ph.state_dict())))
    assert back.cap == 2.0 and back.statistic == 100.0 and back.drift_detected
    old = {k: v for k, v in ph.state_dict().items() if k != "cap"}  # saved before the cap existed
    assert PageHinkley.from_state(old).cap is None
    for bad in (0.5, float("nan"), "2"):
        with pytest.raises(ValueError, match="cap"):
            PageHinkley(cap=bad)  # type: ignore[arg-type]


def test_a_unit_is_healthy_again_once_a_temporary_rise_has_ended() -> None:
    """A disturbance of 12 snapshots (impacts in the high bands, then gone) and the machine as
    before: the unit went to watch on 'Page-Hinkley: sustained rise' and stayed there for ~900
    snapshots (a simulated pump with a 12-hour gain error held watch for the 24 hours to the end of
    its run). (A step of every band alike is a level step, which the Page-Hinkley test is not fed.)"""
    rng = np.random.default_rng(5)
    machine = MachineInfo(rated_rpm=RPM, bearing=GEO)
    mon = UnitMonitor(machine)
    t, _ = feed(mon, rng, 0.0, mon.config.warmup + 20)
    t, during = feed(mon, rng, t, 12, defect=1.0)
    assert any("Page-Hinkley" in r for a in during for r in a.reasons)
    t, after = feed(mon, rng, t, 70)
    late = after[-30:]  # the statistic saturates at 1.5 x its threshold: clear ~30 snapshots later
    assert all(a.state == "healthy" for a in late), [(a.state, a.reasons) for a in late if a.state != "healthy"][:2]
    # and restored from its saved state it goes on the same
    again = UnitMonitor.from_state(json.loads(json.dumps(mon.state_dict())), machine)
    assert again.ph.cap == PH_CAP
    assert again.update_snapshot(snap(t + HOUR, machine_signal(rng))).state == "healthy"


