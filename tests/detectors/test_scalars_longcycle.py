"""The long-cycle phase novelty (detectors/scalars_longcycle.py): a cycle longer than ScalarAnomaly's
history sees, broken in phase, is flagged; elsewhere the scores are ScalarAnomaly's; the state is
bounded, round-trips through JSON and loads across the two classes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors.scalar import ScalarAnomaly
from detectors.periodic import pack_levels
from detectors.scalars_longcycle import LongCycleAnomaly, _pack_pairs, _unpack_pairs

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
    # 1,024 blocks: the newest 128 the fine history's, 896 as pairs of 3-bit levels, 12 to 8 bytes, base64
    assert saved["from_history"] == 128 and len(saved["pairs"]) == 800 and "lo" not in saved
    assert len(json.dumps(det.state_dict())) < 3300  # (3,433 before the pairs and the history's blocks)


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


class _CoarserPhase(LongCycleAnomaly):
    """A variant whose fine history keeps other levels than the long blocks (as bench/nab_variants.py's may)."""

    def _phase_level(self, ch, v: float, level: int) -> int:
        return level >> 1


@pytest.mark.parametrize("cls,kwargs,n,from_history", [
    (LongCycleAnomaly, {}, 30_000, 128),  # full rings, the newest 128 blocks the fine history's
    (LongCycleAnomaly, {}, 30_003, 127),  # a block being filled: 3 of the history's levels are its
    (LongCycleAnomaly, {}, 4_504, 128),
    (LongCycleAnomaly, {"seasonal_history": 0}, 4_500, 0),  # no fine history
    (_CoarserPhase, {}, 4_500, 0),  # a fine history of other levels: nothing taken from it
])
def test_the_long_rings_save_their_pairs_and_take_the_newest_blocks_from_the_fine_history(
        cls: type, kwargs: dict, n: int, from_history: int) -> None:
    """The rings are saved as the blocks' (lowest, highest) pairs, the newest blocks not at all where the fine
    history holds their levels; restored, the rings are the same and the detector scores exactly as the saved
    one. The rings as saved before (each packed at 3 bits) load and do the same."""
    x = cycle(n + 2000, 4, inverted=(n + 500, n + 1000))
    det = cls(**kwargs)
    scores(det, x[:n])
    state = json.loads(json.dumps(det.state_dict()))
    saved = state["channels"]["v"]["long"]
    assert saved["from_history"] == from_history and "lo" not in saved and "hi" not in saved
    lc = det._channels["v"].long
    before = json.loads(json.dumps(state))  # as saved before
    old = before["channels"]["v"]["long"]
    del old["pairs"], old["from_history"]
    old["lo"], old["hi"] = pack_levels(lc.lo.ordered(), det.bits), pack_levels(lc.hi.ordered(), det.bits)
    assert len(json.dumps(saved)) < len(json.dumps(old)) - (200 if len(lc.lo) == 1024 else 50)
    copies = [cls.from_state(s) for s in (state, before)]
    for c in copies:
        back = c._channels["v"].long
        assert np.array_equal(back.lo.ordered(), lc.lo.ordered()) and np.array_equal(back.hi.ordered(), lc.hi.ordered())
    want = scores(det, x[n:]).tolist()
    assert max(want) >= det.alert_level  # (the stretch out of phase: something to go on alike about)
    for c in copies:
        assert scores(c, x[n:]).tolist() == want
        assert c.state_dict() == det.state_dict()


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 11])
def test_pairs_of_levels_come_back_as_they_were(bits: int) -> None:
    rng = np.random.default_rng(bits)
    for n in (0, 1, 11, 12, 13, 1024):
        a, b = rng.integers(0, 1 << bits, n), rng.integers(0, 1 << bits, n)
        lo, hi = np.minimum(a, b).astype(np.uint16), np.maximum(a, b).astype(np.uint16)
        back = _unpack_pairs(_pack_pairs(lo, hi, bits), n, bits)
        assert np.array_equal(back[0], lo) and np.array_equal(back[1], hi)
    top = np.full(1024, (1 << bits) - 1, dtype=np.uint16)
    assert all(np.array_equal(r, top) for r in _unpack_pairs(_pack_pairs(top, top, bits), 1024, bits))


def test_levels_that_are_not_such_pairs_are_saved_as_the_two_rings() -> None:
    lo, hi = np.array([1, 5], dtype=np.uint16), np.array([2, 4], dtype=np.uint16)
    assert _pack_pairs(lo, hi, 3) is None  # a lowest above its highest
    assert _pack_pairs(np.array([1]), np.array([8]), 3) is None  # a level of more than 3 bits
    assert _pack_pairs(np.array([1]), np.array([2]), 6) is None  # at 6 bits the pairs save nothing
    det = LongCycleAnomaly(bits=6)
    scores(det, cycle(3000, 5))
    saved = json.loads(json.dumps(det.state_dict()))
    assert {"lo", "hi"} <= saved["channels"]["v"]["long"].keys()
    assert LongCycleAnomaly.from_state(saved).state_dict() == det.state_dict()


@pytest.mark.parametrize("part,value,message", [
    ("from_history", 2000, "long cycle: 2000 of 562 blocks saved as the fine history's"),
    ("from_history", -1, "long cycle: -1 of 562 blocks"),
    ("from_history", 200, "long cycle: 200 blocks saved as the fine history's, which holds 1024 levels, not 1604"),
    ("pairs", "AAAA", "long cycle: the saved pairs are not 435 blocks' .lowest, highest. 3-bit levels"),
    ("pairs", "not base64!", "long cycle: the saved pairs are not"),
])
def test_damaged_saved_pairs_are_refused_by_name(part: str, value, message: str) -> None:
    det = LongCycleAnomaly()
    scores(det, cycle(4500, 6))
    state = json.loads(json.dumps(det.state_dict()))
    state["channels"]["v"]["long"][part] = value
    with pytest.raises(ValueError, match=message):
        LongCycleAnomaly.from_state(state)
