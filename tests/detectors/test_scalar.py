"""The scalar-series detector: river protocol, bounded memory, determinism, serialisable state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from detectors.periodic import estimate_period
from detectors.scalar import _BLOCKS, ScalarAnomaly
from detectors.statepack import unpack_floats


def stream(det: ScalarAnomaly, values, key: str = "v") -> list[float]:
    out = []
    for v in values:
        x = {key: float(v)}
        out.append(det.score_one(x))
        det.learn_one(x)
    return out


def daily(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    return 50 + 10 * np.sin(2 * np.pi * i / 96) + rng.normal(0, 0.5, n)


def test_spike_beyond_the_range_scores_one_and_normal_stretch_stays_low() -> None:
    x = daily(3000)
    x[2000] += 40.0
    s = stream(ScalarAnomaly(), x)
    assert max(s[1200:2000]) < 0.5
    assert s[2000] == 1.0


def test_new_pattern_inside_the_range_is_caught_by_context_novelty() -> None:
    x = daily(3000)
    x[2500:] = np.where(np.arange(2500, 3000) % 2, 41.0, 59.0)  # swings never seen, inside the range
    s = stream(ScalarAnomaly(), x)
    assert max(s[1200:2500]) < 0.5
    assert max(s[2500:2520]) >= 0.99


def shifts(days: int, per_day: int = 96, seed: int = 0) -> np.ndarray:
    """A plant on a daily rota: high for the first third of each day, low after, noisy."""
    rng = np.random.default_rng(seed)
    i = np.arange(days * per_day)
    return np.where(i % per_day < per_day // 3, 80.0, 20.0) + rng.normal(0, 2.0, len(i))


def test_a_day_whose_shape_changes_inside_the_usual_range_is_caught_by_phase_novelty() -> None:
    # the high stretch comes half a day late: every value and every step from one value to the
    # next was seen before, only its time of day is new (the old single-step context scored 0.32)
    x = shifts(30)
    day = slice(20 * 96, 21 * 96)
    x[day] = np.roll(x[day], 48)
    det = ScalarAnomaly()
    s = stream(det, x[:day.start])
    assert det._channels["v"].period == 96
    s += stream(det, x[day.start:])
    assert max(s[1200:day.start]) < 0.99  # the usual days: nothing at the alert level
    assert max(s[day]) >= 0.99
    assert max(s[day.stop + 48:]) < 0.99  # the days after: usual again (compared with two days back)


@pytest.mark.parametrize("values, period", [
    (shifts(12), 96),
    (daily(1100, seed=5), 96),
    (np.random.default_rng(0).normal(size=1100), 0),  # noise: no cycle
    (np.cumsum(np.random.default_rng(1).normal(size=1100)), 0),  # a random walk: slow, but no cycle
    (np.full(1100, 4.0), 0),
])
def test_the_period_is_the_autocorrelation_peak_of_the_levels(values, period) -> None:
    det = ScalarAnomaly()
    stream(det, values)
    ch = det._channels["v"]
    assert len(ch.history) == det.seasonal_history
    assert ch.period == period
    assert estimate_period(ch.history.ordered(), det.seasonal_min_r, 3) == period


def test_a_cycle_must_fit_three_times_in_the_history() -> None:
    # a 400-step cycle fits only twice and a half in 1,024 levels: not compared against yet
    x = 50 + 10 * np.sign(np.sin(2 * np.pi * np.arange(1100) / 400))
    det = ScalarAnomaly()
    stream(det, x)
    assert det._channels["v"].period == 0
    assert estimate_period(det._channels["v"].history.ordered(), det.seasonal_min_r, 2) in range(395, 406)


def test_scores_are_bounded_and_zero_during_warmup() -> None:
    s = stream(ScalarAnomaly(warmup=200), daily(1000, seed=3))
    assert all(0.0 <= v <= 1.0 for v in s)
    assert max(s[:200]) == 0.0


def test_rest_period_silences_the_scores_after_an_alert() -> None:
    x = daily(2000)
    x[1500] += 40.0
    x[1520] -= 60.0  # another event inside the rest period
    s = stream(ScalarAnomaly(rest=50), x)
    assert s[1500] == 1.0
    assert max(s[1501:1550]) == 0.0
    s2 = stream(ScalarAnomaly(rest=0), x)
    assert s2[1520] == 1.0


def test_score_one_does_not_learn() -> None:
    det = ScalarAnomaly()
    stream(det, daily(500))
    before = json.dumps(det.state_dict(), sort_keys=True)
    for v in (0.0, 1e6, -3.0):
        det.score_one({"v": v})
    assert json.dumps(det.state_dict(), sort_keys=True) == before


def test_state_round_trips_through_json_and_continues_identically() -> None:
    x = daily(1500, seed=7)
    x[1200] += 30
    a = ScalarAnomaly()
    stream(a, x[:800])
    b = ScalarAnomaly.from_state(json.loads(json.dumps(a.state_dict())))
    assert stream(a, x[800:]) == stream(b, x[800:])


def test_the_phase_state_round_trips_and_continues_identically() -> None:
    x = shifts(30)
    x[2000:2096] = np.roll(x[2000:2096], 48)
    a = ScalarAnomaly()
    stream(a, x[:1500])
    state = json.loads(json.dumps(a.state_dict()))
    assert state["channels"]["v"]["period"] == 96 and state["channels"]["v"]["phase"]["totals"][0] > 0
    b = ScalarAnomaly.from_state(state)
    assert b._channels["v"].history.ordered().tolist() == a._channels["v"].history.ordered().tolist()
    assert stream(a, x[1500:]) == stream(b, x[1500:])
    assert a.state_dict() == b.state_dict()


def test_a_state_saved_before_the_phase_novelty_loads_and_learns_the_cycle() -> None:
    x = shifts(30)
    a = ScalarAnomaly()
    stream(a, x[:1000])
    new = a.state_dict()
    # the version-2 format: no seasonal settings, no history, period or phase per channel
    old = {"version": 2, "params": {k: v for k, v in new["params"].items() if not k.startswith("seasonal_")},
           "channels": {k: {f: v for f, v in c.items() if f not in ("history", "period", "phase")}
                        for k, c in new["channels"].items()}}
    b = ScalarAnomaly.from_state(json.loads(json.dumps(old)))
    ch = b._channels["v"]
    assert (ch.n, ch.table, len(ch.history), ch.period) == (1000, a._channels["v"].table, 0, 0)
    assert b.seasonal_history == 1024
    stream(b, x[1000:1500])  # 5 days: the cycle fits three times in what it has seen since
    assert b._channels["v"].period == 96


def test_deterministic() -> None:
    x = daily(1200, seed=11)
    assert stream(ScalarAnomaly(), x) == stream(ScalarAnomaly(), x)


def test_memory_is_bounded() -> None:
    det = ScalarAnomaly(bits=8, context=3, max_contexts=500)
    stream(det, np.random.default_rng(1).normal(size=5000))
    state = det.state_dict()["channels"]["v"]
    assert len(state["table"]) <= 500
    # the likelihood's window: at most _BLOCKS block sums covering at most ``long`` steps
    blocks = det._channels["v"].context.blocks
    covered = sum(b[0] for b in blocks)
    assert len(blocks) <= _BLOCKS and det.long - det.long // _BLOCKS < covered <= det.long
    assert len(unpack_floats(state["block_sums"])) == 2 * len(blocks)  # all of them saved (counts: block_size)


def test_state_stays_small_on_a_long_smooth_series() -> None:
    det = ScalarAnomaly()
    stream(det, daily(20000))
    assert len(json.dumps(det.state_dict())) < 4096


def test_the_level_history_is_bounded_and_packed() -> None:
    det = ScalarAnomaly(bits=5, seasonal_history=300)
    stream(det, np.random.default_rng(2).normal(size=2000))
    ch = det.state_dict()["channels"]["v"]
    count, packed = ch["history"]
    assert count == 300 and len(packed) == 4 * -(-300 * 5 // 24)  # base64 of 5 bits per level
    assert ch["phase"] is None  # noise: no cycle, no phase likelihood kept


def test_without_a_level_history_there_is_no_phase_novelty() -> None:
    x = shifts(30)
    x[2000:2096] = np.roll(x[2000:2096], 48)
    det = ScalarAnomaly(seasonal_history=0)
    s = stream(det, x)
    assert det._channels["v"].period == 0 and max(s[2000:2096]) < 0.99


def test_several_names_are_independent_and_the_score_is_their_maximum() -> None:
    det = ScalarAnomaly()
    x, y = daily(1200, seed=1), daily(1200, seed=2)
    for a, b in zip(x[:-1], y[:-1]):
        det.learn_one({"temp": a, "current": b})
    calm = det.score_one({"temp": x[-1], "current": y[-1]})
    hot = det.score_one({"temp": x[-1], "current": y[-1] + 100.0})
    assert calm < 0.5 and hot == 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"bits": 0}, "bits"), ({"context": 0}, "context"), ({"alert_level": 0.0}, "alert_level"),
    ({"rest": -1}, "rest"), ({"long": 2}, "long"), ({"tolerance": -0.1}, "tolerance"),
    ({"seasonal_history": 8}, "seasonal_history"), ({"seasonal_history": -1}, "seasonal_history"),
    ({"seasonal_min_r": 0.0}, "seasonal_min_r"), ({"seasonal_tolerance": 0.5}, "seasonal_tolerance"),
    ({"seasonal_periods": 0}, "seasonal_periods"), ({"seasonal_every": 0}, "seasonal_every"),
])
def test_bad_hyperparameters_are_refused(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        ScalarAnomaly(**kwargs)


def test_bad_values_are_refused_with_the_name() -> None:
    det = ScalarAnomaly()
    with pytest.raises(ValueError, match="temp: 'hot' is not a number"):
        det.learn_one({"temp": "hot"})
    with pytest.raises(ValueError, match="temp: nan is not finite"):
        det.score_one({"temp": math.nan})
    with pytest.raises(ValueError, match="state version"):
        ScalarAnomaly.from_state({"version": 9})


def test_score_learn_one_is_score_one_then_learn_one() -> None:
    x = daily(3000, seed=4)
    x[2000] += 30.0
    a, b = ScalarAnomaly(), ScalarAnomaly()
    fused = [a.score_learn_one({"v": float(v)}) for v in x]
    assert fused == stream(b, x)
    assert a.state_dict() == b.state_dict()


def test_a_state_saved_with_float_lists_continues_exactly() -> None:
    """States saved before the likelihood's floats were packed (lists) load, and continue as the
    packed one does."""
    x = daily(1500, seed=4)
    det = ScalarAnomaly()
    stream(det, x[:1200])
    new = det.state_dict()
    old = json.loads(json.dumps(new))
    for name, c in old["channels"].items():
        del c["block_sums"], c["last_count"]  # (saved as the blocks' sums since 2026-11-22)
        c["blocks"], c["raw"] = [list(b) for b in det._channels[name].context.blocks], unpack_floats(c["raw"])
    a, b = ScalarAnomaly.from_state(json.loads(json.dumps(new))), ScalarAnomaly.from_state(old)
    assert stream(a, x[1200:]) == stream(b, x[1200:]) == stream(det, x[1200:])
