"""The long-cycle phase novelty (detectors/scalars_longcycle.py): a cycle longer than ScalarAnomaly's
history sees, broken in phase, is flagged; elsewhere the scores are ScalarAnomaly's; the state is
bounded, round-trips through JSON and loads across the two classes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors.scalar import ScalarAnomaly
from detectors.scalars_longcycle import LongCycleAnomaly

PERIOD = 1000  # values: 3 cycles need 3,000 of ScalarAnomaly's 1,024 levels


def cycle(n: int, seed: int, noise: float = 0.05, inverted: tuple[int, int] | None = None) -> np.ndarray:
    """A sine of period 1,000 with noise; ``inverted``: a stretch where the cycle runs half a period
    out of phase (its hump goes down instead of up: the values stay in the range, and the one-step
    transitions are ones the cycle makes elsewhere)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    v = np.sin(2 * np.pi * t / PERIOD)
    if inverted is not None:
        a, b = inverted
        v[a:b] = -v[a:b]
    return v + noise * rng.normal(size=n)


def scores(det: ScalarAnomaly, values: np.ndarray) -> np.ndarray:
    out = []
    for v in values.tolist():
        x = {"v": v}
        out.append(det.score_one(x))
        det.learn_one(x)
    return np.array(out)


def alerts(s: np.ndarray, start: int = 1000) -> list[int]:
    return [int(i) + start for i in np.flatnonzero(s[start:] >= 0.99)]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("noise", [0.05, 0.1])
def test_a_cycle_of_1000_values_broken_in_phase_is_flagged(seed: int, noise: float) -> None:
    x = cycle(6500, seed, noise, inverted=(5000, 5500))
    found = alerts(scores(LongCycleAnomaly(), x))
    assert found and 5000 <= found[0] < 5150, found  # within 15 % of a period of the break
    assert not alerts(scores(ScalarAnomaly(), x))  # the fine phase (341 values at most) does not see it


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_intact_long_cycle_raises_nothing(seed: int) -> None:
    det = LongCycleAnomaly()
    assert not alerts(scores(det, cycle(6500, seed)))
    assert abs(det._channels["v"].long.period * det.cycle_block - PERIOD) <= det.cycle_block


def test_a_cycle_the_fine_history_holds_is_left_to_it() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(5000)
    x = 20 + 5 * np.sin(2 * np.pi * t / 96) + rng.normal(0, 0.3, 5000)
    x[4000] += 30
    det = LongCycleAnomaly()
    s = scores(det, x)
    ch = det._channels["v"]
    assert ch.period == 96 and ch.long.period == 0  # 96 values = 12 blocks: short, the fine phase's
    assert s.tolist() == scores(ScalarAnomaly(), x).tolist()


def test_without_a_long_cycle_the_scores_are_scalar_anomalys() -> None:
    rng = np.random.default_rng(5)
    x = np.cumsum(rng.normal(size=4000))  # a random walk: no cycle
    x[3000] += 50
    assert scores(LongCycleAnomaly(), x).tolist() == scores(ScalarAnomaly(), x).tolist()
    assert scores(LongCycleAnomaly(cycle_history=0), x).tolist() == scores(ScalarAnomaly(), x).tolist()


def test_an_alert_of_the_long_phase_starts_the_rest_period() -> None:
    det = LongCycleAnomaly()
    s = scores(det, cycle(6500, 0, inverted=(5000, 5500)))
    first = alerts(s)[0]
    assert max(s[first + 1: first + 1 + det.rest]) == 0.0


def test_state_round_trips_through_json_and_continues_identically() -> None:
    x = cycle(6500, 1, inverted=(5000, 5500))
    a = LongCycleAnomaly()
    scores(a, x[:4500])
    state = json.loads(json.dumps(a.state_dict()))
    b = LongCycleAnomaly.from_state(state)
    assert b.state_dict() == a.state_dict()
    assert scores(b, x[4500:]).tolist() == scores(a, x[4500:]).tolist()


def test_a_scalar_anomaly_state_loads_and_learns_the_long_cycle_from_then_on() -> None:
    x = cycle(9000, 2)
    old = ScalarAnomaly()
    scores(old, x[:2000])
    det = LongCycleAnomaly.from_state(json.loads(json.dumps(old.state_dict())))
    ch = det._channels["v"]
    assert ch.n == 2000 and getattr(ch, "long", None) is None  # an empty long history
    scores(det, x[2000:])
    assert abs(det._channels["v"].long.period * det.cycle_block - PERIOD) <= det.cycle_block
    # and ScalarAnomaly loads this one's state (it leaves the long history out)
    back = ScalarAnomaly.from_state(json.loads(json.dumps(det.state_dict())))
    assert back._channels["v"].n == 9000


def test_state_is_bounded_and_small() -> None:
    det = LongCycleAnomaly()
    scores(det, cycle(30000, 3))
    lc = det._channels["v"].long
    assert len(lc.lo) == len(lc.hi) == det.cycle_history
    saved = det.state_dict()["channels"]["v"]["long"]
    assert len(saved["lo"]) == len(saved["hi"]) == 512  # 1,024 blocks at 3 bits, base64
    assert len(json.dumps(det.state_dict())) < 5000


@pytest.mark.parametrize("kwargs, message", [
    ({"cycle_block": 1}, "cycle_block"),
    ({"cycle_block": 2.5}, "cycle_block"),
    ({"cycle_history": 8}, "cycle_history"),
    ({"cycle_history": True}, "cycle_history"),
])
def test_bad_hyperparameters_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LongCycleAnomaly(**kwargs)


def test_a_bad_saved_long_history_is_refused_with_a_message() -> None:
    det = LongCycleAnomaly()
    scores(det, cycle(1200, 0))
    state = json.loads(json.dumps(det.state_dict()))
    state["channels"]["v"]["long"]["n"] = 5000
    with pytest.raises(ValueError, match="long cycle"):
        LongCycleAnomaly.from_state(state)
