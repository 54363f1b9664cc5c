"""The commissioning baselines' points (robust z-score buffers, the T² rows, its mean and inverse
covariance) are saved packed as float64 (:mod:`detectors.statepack`), exact and about half the JSON of
lists, so that a unit warned while it commissions keeps its time-to-failure window and the most scalar
series within 64 KB; states saved as lists still load, and a damaged packing is refused by name."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from detectors import MachineInfo, UnitMonitor
from detectors.config import MonitorConfig
from detectors.mahalanobis import Mahalanobis
from detectors.zscore import RobustZScore
from tests.detectors.sim import GEO, RPM, machine_signal, snap

MACHINE = MachineInfo(rated_rpm=RPM, bearing=GEO)
HOUR = 3600.0


def test_a_packed_baseline_continues_bit_for_bit_and_a_listed_one_still_loads() -> None:
    rng = np.random.default_rng(4)
    z, mv = RobustZScore(warmup=30), Mahalanobis(warmup=30)
    for i in range(20):
        x = {"a": float(rng.normal()), "b": float(rng.normal(5, 2)), "c": math.nan if i % 7 == 0 else float(rng.normal())}
        z.learn_one(x)
        mv.learn_one(x)
    packed = json.loads(json.dumps(z.state_dict())), json.loads(json.dumps(mv.state_dict()))
    assert isinstance(packed[0]["buffer"]["a"], str) and isinstance(packed[1]["rows"], str)
    listed = (dict(packed[0], buffer={k: [float(v) for v in b] for k, b in z._buffer.items()}),  # saved before
              dict(packed[1], rows=[list(r) for r in mv._rows]))
    rest = [{"a": float(i), "b": 5.0 + i / 10, "c": 0.5 - i / 50} for i in range(10)]
    probe = {"a": 1.0, "b": 6.0, "c": 0.0}
    for det in (z, mv):  # the original finishes its commissioning
        for x in rest:
            det.learn_one(x)
    for zs, ms in (packed, listed):
        zz, mm = RobustZScore.from_state(zs), Mahalanobis.from_state(ms)
        for x in rest:
            zz.learn_one(x)
            mm.learn_one(x)
        assert zz.baseline == z.baseline  # exactly the same numbers
        assert np.array_equal(mm.inv_cov, mv.inv_cov) and mm.score_one(probe) == mv.score_one(probe)
    ready = json.loads(json.dumps(mv.state_dict()))
    assert isinstance(ready["mean"], str) and isinstance(ready["inv_cov"], str) and ready["rows"] == ""
    assert Mahalanobis.from_state(ready).score_one(probe) == mv.score_one(probe)
    as_lists = dict(ready, mean=mv.mean.tolist(), inv_cov=mv.inv_cov.tolist())
    assert Mahalanobis.from_state(as_lists).score_one(probe) == mv.score_one(probe)


@pytest.mark.parametrize("part,corrupt,message", [
    ("baseline", lambda s: s["buffer"].__setitem__("rms_g", "not base64!"), "packed floats are not base64"),
    # (rows saved packed: a unit whose baseline does not hold them, or saved before)
    ("mv", lambda s: (s.pop("rows_from_columns", None), s.__setitem__("rows", "AAAAAAAA+D8=")), "are not rows of"),
])
def test_a_damaged_packing_is_refused_by_name(part: str, corrupt, message: str) -> None:
    rng = np.random.default_rng(5)
    mon = UnitMonitor(MACHINE)
    for i in range(10):
        mon.update_snapshot(snap(i * 600.0, machine_signal(rng)))
    state = json.loads(json.dumps(mon.state_dict()))
    corrupt(state[part])
    with pytest.raises(ValueError) as err:
        UnitMonitor.from_state(state, MACHINE)
    assert str(err.value).startswith("cannot restore the monitor: ") and message in str(err.value)


def test_a_unit_whose_commissioning_waits_on_a_warning_with_the_most_scalar_series_stays_under_64_kb() -> None:
    """The worst a commissioning keeps: 29 snapshots learnt, then a bearing fault that pauses it for
    as long as it lasts, while the unit sends the most scalar series for two days. The time-to-failure
    window is full, its tiers empty (they begin after commissioning). Measured: 61,679 bytes; with the
    baselines' points saved as lists (and no trend while commissioning) it took 66,145; since the T² rows,
    the commissioning trend and the scalar trends' times are saved once and the anomaly channels
    compactly (2026-11-22), 43,234."""
    rng = np.random.default_rng(6)
    cfg = MonitorConfig()
    mon = UnitMonitor(MACHINE)
    keys = [f"metric_{k}" for k in range(cfg.max_scalar_keys + 4)]
    for i in range(2880):  # a scalar record a minute, a snapshot every 30 minutes
        mon.update_scalars(i * 60.0, {k: float(rng.normal(10 + j, 1 + j / 10)) for j, k in enumerate(keys)})
        if i % 30 == 29:
            n = i // 30
            mon.update_snapshot(snap(i * 60.0 + 1, machine_signal(rng, defect=0.0 if n < 27 else 0.3)))
    assert mon.n_learnt == 29 and not mon.baseline.ready  # commissioning waits (the lines confirmed on the 3rd)
    assert mon.last.state == "warning"
    for tr in mon.trends.values():
        assert len(tr.points) == tr.window and all(len(t) == 0 for t in tr.coarse)
    state = mon.state_dict()
    assert len(state["scalars"]["tracks"]) == cfg.max_scalar_keys
    assert len(json.dumps(state)) < 64 * 1024, len(json.dumps(state))


def _assessed(a) -> tuple:
    return a.state, a.failure_mode, a.reasons, a.scores, a.ttf_s


def test_a_commissioning_saves_its_t2_rows_and_its_trend_once_and_continues_bit_for_bit() -> None:
    """The T² rows are the commissioning points of five of the features the robust baseline keeps (the
    same snapshots, the same stride): saved as its columns, not a second time (3.3 KB of a 64-point
    commissioning). The commissioning check's trend holds the RMS trend's points: saved once (1 KB),
    and dropped when the commissioning ends (no longer read). A restored unit finishes its commissioning
    and assesses exactly as the saved one; a state saved with the rows and the trend's points (before)
    loads and does the same."""
    rng = np.random.default_rng(7)
    mon = UnitMonitor(MACHINE, warmup=300)
    for i in range(280):
        mon.update_snapshot(snap(i * 60.0, machine_signal(rng)))
    state = json.loads(json.dumps(mon.state_dict()))
    assert state["mv"]["rows_from_columns"] is True and "rows" not in state["mv"]
    assert len(json.dumps(state["mv"])) < 300, len(json.dumps(state["mv"]))
    assert state["commissioning"]["trend"]["points_of"] == "rms_g" and "points" not in state["commissioning"]["trend"]
    assert len(mon.commissioning.trend.points) == 48
    before = json.loads(json.dumps(dict({k: v for k, v in state.items() if k != "trend_times"},
                                        mv=mon.mv.state_dict(),  # as saved before: the rows packed,
                                        commissioning=mon.commissioning.state_dict(),  # the trend's points
                                        trends={k: t.state_dict() for k, t in mon.trends.items()})))  # each its times
    assert isinstance(before["mv"]["rows"], str) and "rows_from_columns" not in before["mv"]
    assert before["commissioning"]["trend"]["points"] == before["trends"]["rms_g"]["points"]
    copies = [UnitMonitor.from_state(s, MACHINE) for s in (state, before)]
    for i in range(280, 340):  # the commissioning ends at 300, then a bearing fault grows
        x = machine_signal(rng, defect=0.0 if i < 310 else 0.02 * np.exp((i - 310) / 6))
        want = _assessed(mon.update_snapshot(snap(i * 60.0, x)))
        assert all(_assessed(c.update_snapshot(snap(i * 60.0, x))) == want for c in copies), i
    assert mon.mv.ready and all(np.array_equal(c.mv.inv_cov, mon.mv.inv_cov) for c in copies)
    assert mon.last.state == "warning"
    assert not mon.commissioning.trend.points and "points_of" not in mon.state_dict()["commissioning"]["trend"]
    assert all(c.state_dict() == mon.state_dict() for c in copies)


def test_t2_rows_the_columns_do_not_hold_are_saved_and_missing_columns_are_refused() -> None:
    mv = Mahalanobis(warmup=30)
    for i in range(10):
        mv.learn_one({"a": float(i), "b": 2.0 * i})
    cols = {"a": [float(i) for i in range(10)], "b": [2.0 * i for i in range(10)]}
    assert mv.state_dict(columns=cols).get("rows_from_columns") is True
    for other in ({"a": cols["a"]}, {**cols, "b": cols["b"][:9]}, {**cols, "b": [-0.0] + cols["b"][1:]}):
        state = mv.state_dict(columns=other)  # a column missing, shorter, or a bit different (-0.0 is not 0.0)
        assert "rows_from_columns" not in state and Mahalanobis.from_state(state)._rows == mv._rows
    saved = mv.state_dict(columns=cols)
    assert Mahalanobis.from_state(saved, columns=cols)._rows == mv._rows
    with pytest.raises(ValueError, match="mahalanobis rows: saved as the columns of a, b, which are missing: b"):
        Mahalanobis.from_state(saved, columns={"a": cols["a"]})
    rng = np.random.default_rng(8)
    mon = UnitMonitor(MACHINE, warmup=100)
    for i in range(20):
        mon.update_snapshot(snap(i * 60.0, machine_signal(rng)))
    state = json.loads(json.dumps(mon.state_dict()))
    damaged = json.loads(json.dumps(state))
    damaged["baseline"]["buffer"] = {}  # the columns the rows were saved as are gone
    with pytest.raises(ValueError, match="cannot restore the monitor: .*mahalanobis rows: saved as the columns of"):
        UnitMonitor.from_state(damaged, MACHINE)
    damaged = json.loads(json.dumps(state))
    damaged["commissioning"]["trend"]["points_of"] = "temperature"
    with pytest.raises(ValueError, match="cannot restore the monitor: .*commissioning.trend: saved as the points of "
                                         "the trend 'temperature', which has none"):
        UnitMonitor.from_state(damaged, MACHINE)
