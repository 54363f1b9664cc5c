"""The scalar-series detector: river protocol, bounded memory, determinism, serialisable state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from detectors.scalar import _BLOCKS, ScalarAnomaly


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


def test_deterministic() -> None:
    x = daily(1200, seed=11)
    assert stream(ScalarAnomaly(), x) == stream(ScalarAnomaly(), x)


def test_memory_is_bounded() -> None:
    det = ScalarAnomaly(bits=8, context=3, max_contexts=500)
    stream(det, np.random.default_rng(1).normal(size=5000))
    state = det.state_dict()["channels"]["v"]
    assert len(state["table"]) <= 500
    # the likelihood's window: at most _BLOCKS block sums covering at most ``long`` steps
    covered = sum(b[0] for b in state["blocks"])
    assert len(state["blocks"]) <= _BLOCKS and det.long - det.long // _BLOCKS < covered <= det.long


def test_state_stays_small_on_a_long_smooth_series() -> None:
    det = ScalarAnomaly()
    stream(det, daily(20000))
    assert len(json.dumps(det.state_dict())) < 4096


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
