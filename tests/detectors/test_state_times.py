"""A scalar trend's times are saved as the whole milliseconds a unit sends them in
(:func:`detectors.statepack.pack_times`): the first, then each step less the least one in as few bytes
as hold them all, 2.7 characters a time instead of a float's 10.7 (4.9 KB of the 15 trends of series
sent apart). Times that are not whole milliseconds bit for bit are saved as floats, as before; either
way a restored panel goes on exactly as the saved one, and a state saved before (the trends' times as
floats) loads and does the same. (Counts, :func:`detectors.statepack.pack_counts`, are packed alike, at
the fewest bytes that hold them all.)"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from detectors.config import MonitorConfig
from detectors.scalars import ScalarPanel
from detectors.statepack import pack_counts, pack_floats, pack_times, pack_times_each, unpack_counts, unpack_times

T0_MS = 1_732_000_000_000  # epoch milliseconds, as the units send them


def _bits(times: list[float]) -> list[int]:
    return np.asarray(times, dtype="<f8").view(np.int64).tolist()


def test_whole_millisecond_times_pack_to_their_steps_and_come_back_bit_for_bit() -> None:
    rng = np.random.default_rng(30)
    ms = T0_MS + np.cumsum(rng.integers(55_000, 65_000, 48))  # a value a minute, give or take 5 s
    times = [int(m) / 1000 for m in ms]  # as the service reads them (ts_ms / 1000)
    packed = pack_times(times)
    assert isinstance(packed, dict) and packed["ms"][0] == ms[0] and packed["ms"][2] == 2
    back = unpack_times(json.loads(json.dumps(packed)))
    assert _bits(back) == _bits(times)
    assert len(json.dumps(packed)) < 0.35 * len(json.dumps(pack_floats(times)))  # 174 characters, not 514


@pytest.mark.parametrize("steps,width", [
    ([1000, 1000, 1200], 1),  # steps less the least: 0, 0, 200
    ([60_000, 1000, 30_000], 2),
    ([1, 10 * 86_400_000], 4),  # a gap of ten days
    ([1, 2 ** 40], 8),
    ([5000, -3000, 2000], 2),  # a time before the one before: the least step is negative
])
def test_the_steps_take_the_fewest_bytes_that_hold_them(steps: list[int], width: int) -> None:
    times = [m / 1000 for m in np.cumsum([T0_MS, *steps]).tolist()]
    packed = pack_times(times)
    assert isinstance(packed, dict) and packed["ms"][1] == min(steps) and packed["ms"][2] == width
    assert _bits(unpack_times(packed)) == _bits(times)


@pytest.mark.parametrize("times", [
    [T0_MS / 1000 + 0.0001],  # a tenth of a millisecond
    [T0_MS / 1000, T0_MS / 1000 + 60.0 + 1e-6],
    [0.1 + 0.2],  # 0.30000000000000004: near 0.3 s, but not the float of 300 ms
    [-0.0],  # 0 ms is 0.0, not -0.0
    [1.0, math.nan], [math.inf],
    [1e13],  # past 2**53 ms
])
def test_times_that_are_not_whole_milliseconds_bit_for_bit_are_packed_as_floats(times: list[float]) -> None:
    assert pack_times(times) == pack_floats(times)
    assert _bits(unpack_times(pack_times(times))) == _bits(times)


def test_groups_of_times_are_each_packed_on_their_own() -> None:
    """A group whose times are not whole milliseconds (a NaN, -0.0, a tenth of a ms) is packed as floats,
    and the groups beside it as milliseconds; the steps never cross from one group to the next."""
    whole = [(T0_MS + 60_000 * i + 7 * i * i) / 1000 for i in range(48)]
    later = [(T0_MS + 10 ** 9 + 1000 * i) / 1000 for i in range(5)]
    groups = [whole, [], [1.0, math.nan], later, [-0.0], [T0_MS / 1000 + 0.0001], [2.5]]
    packed = pack_times_each(groups)
    assert [isinstance(p, dict) for p in packed] == [True, False, False, True, False, False, True]
    assert packed[3] == {"ms": [T0_MS + 10 ** 9, 1000, 1], "steps": "AAAAAA=="} and packed[1] == ""
    assert packed[6] == {"ms": [2500, 0, 1], "steps": ""}
    for g, p in zip(groups, packed, strict=True):
        assert _bits(unpack_times(json.loads(json.dumps(p)))) == _bits(g)
    assert pack_times_each([]) == []


def test_no_time_and_one_time_come_back() -> None:
    assert unpack_times(pack_times([])) == [] and pack_times([]) == ""
    assert pack_times([1.5]) == {"ms": [1500, 0, 1], "steps": ""} and unpack_times(pack_times([1.5])) == [1.5]


@pytest.mark.parametrize("packed,message", [
    ({"ms": [1, 0], "steps": ""}, "packed times: expected"),
    ({"ms": [1, 0, 3], "steps": ""}, "packed times: expected"),
    ({"ms": [1.5, 0, 1], "steps": ""}, "packed times: expected"),
    ({"ms": [10 ** 400, 0, 1], "steps": ""}, "packed times: expected"),
    ({"ms": [1, 0, 2], "steps": "not base64!"}, "packed times: the steps are not base64"),
    ({"ms": [1, 0, 2], "steps": "AAAA"}, "packed times: 3 bytes of steps is not a whole number of 2-byte steps"),
])
def test_a_damaged_time_packing_is_refused_by_name(packed: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        unpack_times(packed)


def _step(panel: ScalarPanel, ts: float, values: dict[str, float]) -> tuple:
    level, a = panel.update(ts, values)
    return level, a.state, a.reasons, a.scores, a.failure_mode, a.ttf_s, a.ttf_low_s, a.ttf_high_s


@pytest.mark.parametrize("whole_ms", [True, False])
def test_series_sent_apart_save_their_trend_times_compactly_and_continue_bit_for_bit(whole_ms: bool) -> None:
    """Four series each sent at its own time: one trend's times are the panel's shared ones, the three
    others' their own. With times in whole milliseconds (as units send them) each of those saves its times
    as milliseconds, 330 characters less a trend of 48 times; with times that are not (``whole_ms`` false) as floats.
    A state saved before (each trend's own times as floats, in its points) loads; every copy goes on as
    the saved panel."""
    cfg = MonitorConfig(scalar_warmup_s=6 * 3600.0)
    rng = np.random.default_rng(31)
    panel = ScalarPanel(cfg)
    keys = ["bearing_temperature_c", "pressure_bar", "current_g", "flow_m3h"]

    def feed(p: ScalarPanel, i: int, rise: float = 1.0) -> list[tuple]:
        ms = T0_MS + i * 600_000 + int(rng.integers(0, 2000))
        return [_step(p, (ms + 300 * j) / 1000 if whole_ms else ms / 1000 + 0.3 * j + 1e-5,
                      {k: rise * (10 + j) * float(rng.normal(1, 0.01))}) for j, k in enumerate(keys)]

    for i in range(100):
        feed(panel, i)
    state = json.loads(json.dumps(panel.state_dict()))
    trends = state["tracks"]
    own = [k for k in keys if "times" in trends[k]["trend"]]
    assert len(own) == 3 and all("points" not in t["trend"] and "values" in t["trend"] for t in trends.values())
    assert all(isinstance(trends[k]["trend"]["times"], dict) is whole_ms for k in own)
    assert isinstance(state["trend_times"], dict) is whole_ms
    before = json.loads(json.dumps(state))  # as saved before: each trend's own times in its points, as floats
    for k in own:
        before["tracks"][k]["trend"] = panel.tracks[k].trend.state_dict()
        assert isinstance(before["tracks"][k]["trend"]["points"], str)
    before["trend_times"] = pack_floats(unpack_times(state["trend_times"]))
    saving = len(json.dumps(before)) - len(json.dumps(state))
    assert saving > 4 * 300 if whole_ms else abs(saving) < 4 * 20, saving  # (the floats: a few characters of keys)
    copies = [ScalarPanel.from_state(cfg, s) for s in (state, before)]
    for c in copies:
        assert all(_bits([t for t, _ in c.tracks[k].trend.points]) == _bits([t for t, _ in panel.tracks[k].trend.points])
                   for k in keys)
    rng_state = rng.bit_generator.state
    want = [feed(panel, 100 + i, 1.06 ** i) for i in range(40)]  # every series rises: a warning, its time to failure
    for c in copies:
        rng.bit_generator.state = rng_state
        assert [feed(c, 100 + i, 1.06 ** i) for i in range(40)] == want
        assert json.dumps(c.state_dict()) == json.dumps(panel.state_dict())
    assert max(step[0] for steps in want for step in steps) == 2 and want[-1][0][5] is not None
    damaged = json.loads(json.dumps(state))
    damaged["tracks"][own[0]]["trend"]["times"] = pack_times(unpack_times(state["tracks"][own[0]]["trend"]["times"])[1:])
    with pytest.raises(ValueError, match="scalar trend: 48 values saved with 47 times of its own"):
        ScalarPanel.from_state(cfg, damaged)


@pytest.mark.parametrize("counts,width", [([], 1), ([0, 255], 1), ([0, 256], 2), ([70_000], 4), ([2 ** 40, 1], 8)])
def test_counts_take_the_fewest_bytes_that_hold_them(counts: list[int], width: int) -> None:
    packed = pack_counts(counts)
    assert len(packed) == 4 * -(-len(counts) * width // 3) and unpack_counts(packed, len(counts)) == counts


@pytest.mark.parametrize("packed,n,message", [
    ("AAAA", 2, "packed counts: 3 bytes are not 2 counts"),
    ("AAAA", 0, "packed counts: 3 bytes are not 0 counts"),
    ("not base64!", 2, "packed counts are not base64"),
])
def test_damaged_counts_are_refused_by_name(packed: str, n: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        unpack_counts(packed, n)
