"""Time to failure and its range (:class:`detectors.prognosis.ExpTrend`): calibration of the range
on trends with known crossing times, the model-error term, edge cases and saved state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from detectors.prognosis import ExpTrend
from detectors.statepack import pack_floats

STEP = 600.0  # one point every 10 minutes


def _exp_trend(rng: np.random.Generator, n: int = 40, rate: float = 2e-5, noise: float = 0.05) -> ExpTrend:
    tr = ExpTrend(window=48)
    for i in range(n):
        tr.update(i * STEP, math.exp(rate * i * STEP + noise * rng.standard_normal()))
    return tr


def test_the_range_of_an_exponential_trend_covers_the_true_crossing_about_nine_times_in_ten() -> None:
    rate, n = 2e-5, 40
    t_last = (n - 1) * STEP
    limit = math.exp(rate * (t_last + 20 * 3600))  # the noise-free trend reaches it 20 h after the last point
    hits, widths = [], []
    for seed in range(200):
        est = _exp_trend(np.random.default_rng(seed), n, rate).time_to(limit)
        assert est is not None
        _, lo, hi = est
        hits.append(lo <= 20 * 3600 <= hi)
        widths.append((hi - lo) / (20 * 3600))
    assert 0.85 <= np.mean(hits) <= 1.0
    assert np.median(widths) < 1.0  # and not useless: under the time left itself


def test_a_decelerating_log_trend_widens_the_range_to_the_truth() -> None:
    """Damage growing as a power of time since onset (v ~ u^3) looks exponential locally, with a
    falling log rate; a constant-rate extrapolation is pessimistic. The slope's standard error alone
    gave 13-15 ks here while the truth is 36.6 ks; the model-error term must reach it."""
    rng = np.random.default_rng(0)
    tr = ExpTrend(window=48)
    for i in range(30):
        u = (i + 10) / 100
        tr.update(i * STEP, (u**3 + 0.001) * math.exp(0.05 * rng.standard_normal()))
    truth = (100 - 39) * STEP
    ttf, lo, hi = tr.time_to(1.0)
    assert ttf < 0.5 * truth  # the point estimate is the constant-rate one: too early
    assert lo <= truth <= hi
    assert hi < 10 * truth


def test_a_late_acceleration_pulls_the_low_end_in() -> None:
    """A flat indicator that has just started to climb (healthy level plus a growing fault): the
    current rate is above the window's average, so the low end is below the average-rate crossing."""
    tr = ExpTrend(window=48)
    for i in range(48):
        t = i * STEP
        tr.update(t, math.sqrt(1.0 + (math.exp(t / 8000.0) / 200) ** 2))
    ttf, lo, hi = tr.time_to(20.0)
    assert lo < 0.8 * ttf <= ttf <= hi


def test_the_range_always_holds_the_estimate_and_is_finite() -> None:
    rng = np.random.default_rng(3)
    for seed in range(30):
        tr = _exp_trend(np.random.default_rng(seed), n=int(rng.integers(8, 48)), noise=float(rng.uniform(0.01, 0.3)))
        est = tr.time_to(math.exp(3.0))
        if est is None:
            continue
        ttf, lo, hi = est
        assert 0 <= lo <= ttf <= hi <= 100 * ttf + 1e-6 and math.isfinite(hi)


def test_no_estimate_without_a_significant_rise_and_zero_once_past_the_limit() -> None:
    rng = np.random.default_rng(1)
    flat = ExpTrend()
    for i in range(40):
        flat.update(i * STEP, math.exp(0.2 * rng.standard_normal()))
    assert flat.time_to(10.0) is None
    short = ExpTrend()
    for i in range(5):
        short.update(i * STEP, math.exp(i))
    assert short.time_to(1e6) is None  # fewer than min_points
    past = _exp_trend(np.random.default_rng(2))
    ttf, lo, hi = past.time_to(1.05)  # the trend is already well above this limit
    assert ttf == 0.0 and lo == 0.0 and hi >= 0.0


def test_points_from_a_level_step_on_only() -> None:
    tr = ExpTrend()
    for i in range(20):
        tr.update(i * STEP, 1.0)
    for i in range(20, 40):
        tr.update(i * STEP, 3.0 * math.exp(1e-4 * (i - 20) * STEP))
    assert tr.time_to(100.0, since=20 * STEP) is not None


def test_saved_state_round_trips_and_the_previous_format_restores() -> None:
    tr = _exp_trend(np.random.default_rng(4))
    again = ExpTrend.from_state(json.loads(json.dumps(tr.state_dict())))
    assert again.time_to(math.exp(2.0)) == pytest.approx(tr.time_to(math.exp(2.0)))
    assert list(again.points) == list(tr.points)  # bit for bit
    old = {"window": 48, "min_points": 8, "points": [[i * STEP, 0.001 * i] for i in range(30)]}  # as saved before
    assert ExpTrend.from_state(old).time_to(math.exp(1.0)) is not None
    packed = ExpTrend.from_state(json.loads(json.dumps(ExpTrend.from_state(old).state_dict())))
    assert list(packed.points) == [(float(t), float(v)) for t, v in old["points"]]
    # packed: about half the JSON of the list of pairs
    assert len(json.dumps(tr.state_dict())) < 0.75 * len(json.dumps({**tr.state_dict(), "points": [list(p) for p in tr.points]}))


def test_a_damaged_packed_trend_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="not base64"):
        ExpTrend.from_state({"window": 48, "min_points": 8, "points": "not base64!"})
    with pytest.raises(ValueError, match="pairs"):
        ExpTrend.from_state({"window": 48, "min_points": 8, "points": pack_floats([1.0, 2.0, 3.0])})


def test_a_fault_seen_through_the_healthy_floor_widens_the_range_to_the_excess_model() -> None:
    """Healthy level 1 plus a fault growing exponentially, added in quadrature: a fit of log h takes
    the slow start for a low rate and its whole range lies beyond the truth; the excess over the
    floor, a model of its own, pulls the low end in to it. The estimate stays the plain one."""
    tau, div, n = 8000.0, 40.0, 48
    tr = ExpTrend(window=48)
    rng = np.random.default_rng(0)
    for i in range(n):
        t = i * STEP
        tr.update(t, math.sqrt(1.0 + (math.exp(t / tau) / div) ** 2) * math.exp(0.01 * rng.standard_normal()))
    limit = 20.0
    truth = tau * math.log(div * math.sqrt(limit**2 - 1)) - (n - 1) * STEP
    plain = tr.time_to(limit)
    ttf, lo, hi = tr.time_to(limit, floor=1.0)
    assert plain[1] > truth  # the plain range misses it
    assert ttf == plain[0] and hi == plain[2]
    assert lo <= truth <= hi
    assert tr.time_to(limit, floor=0.5) is not None  # a floor below the data: fitted as it is


def test_no_rise_in_the_excess_falls_back_to_the_plain_indicator() -> None:
    tr = ExpTrend()
    for i in range(30):
        tr.update(i * STEP, math.exp(3e-5 * i * STEP))
    assert tr.time_to(1e3, floor=1e6) == tr.time_to(1e3)  # floor above everything: ignored


def test_the_monitor_reports_the_first_indicator_to_reach_its_limit_with_the_earliest_bounds() -> None:
    """Alarm = the first of the velocity (ISO zone D) and the RMS (alarm_ratio x its reference) to
    reach its limit: the estimate, the low and the high end are each the earliest over the two."""
    from detectors import MachineInfo, UnitMonitor

    mon = UnitMonitor(MachineInfo(rated_rpm=1800))
    mon.ref = 0.1
    rng = np.random.default_rng(1)
    for i in range(40):
        t = i * STEP
        mon.trends["velocity_rms_mm_s"].update(t, 1.0 * math.exp(5e-5 * t + 0.3 * rng.standard_normal()))
        mon.trends["rms_g"].update(t, 0.1 * math.exp(7e-5 * t + 0.02 * rng.standard_normal()))
    v = mon.trends["velocity_rms_mm_s"].time_to(mon.iso.limits[2])
    r = mon.trends["rms_g"].time_to(0.1 * mon.config.alarm_ratio)
    assert v is not None and r is not None
    assert mon._ttf() == (min(v[0], r[0]), min(v[1], r[1]), min(v[2], r[2]))
    # a noisy velocity trend first on the estimate, a clean RMS trend that must come by its high end
    assert v[0] < r[0] and r[2] < v[2] and mon._ttf()[2] == r[2]


def test_the_first_crossing_of_a_bound_is_the_one_a_dense_search_finds() -> None:
    """``_first_reaches`` solves ``slope·g ± sqrt(c0 + c1·g + c2·g²) >= gap`` in closed form; a dense
    search over the horizon must find the same first crossing (or none) for each bound."""
    from detectors.prognosis import HORIZON_MAX, _first_reaches

    grid = np.linspace(0.0, HORIZON_MAX, 200_001)
    rng = np.random.default_rng(5)
    for _ in range(300):
        s2, i00, i11 = rng.uniform(0, 0.3) ** 2, rng.uniform(0, 1), rng.uniform(0, 3)
        i01 = rng.uniform(-1, 1) * math.sqrt(i00 * i11)
        c0, c1, c2 = 2.9 * s2 * (1 + i00), 2.9 * 2 * s2 * i01, 2.9 * (s2 * i11 + rng.uniform(0, 0.5) ** 2)
        gap, slope = rng.uniform(-0.5, 3.0), rng.uniform(-0.2, 2.0)
        for sign in (1.0, -1.0):
            hit = slope * grid + sign * np.sqrt(np.maximum(c0 + c1 * grid + c2 * grid**2, 0)) >= gap
            found = _first_reaches(gap, slope, c0, c1, c2)[0 if sign > 0 else 1]
            if not hit.any():
                assert found is None
            else:
                assert found is not None and abs(found - grid[hit.argmax()]) <= 2 * grid[1]
