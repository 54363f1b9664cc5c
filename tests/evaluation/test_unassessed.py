"""Snapshots the engine could not assess are counted and said, so that "no warning" is not read as
"healthy" or "missed".

Found by simulating a pump whose sensor samples at 1.5 kHz (the simulator accepts it: the sensor
resolves the pump's defect lines, but the engine needs 2 kHz for the ISO velocity band): every
snapshot came back ``unknown``, and the report showed a fleet with 0 false warnings per unit-day
and two failures "warned >=24 h before: 0%", with nothing saying that nothing had been assessed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.report import render
from evaluation.runs import evaluate_run
from foreshock.cli import main
from foreshock.datasets import read_run, write_run


def _slow_sensor_run(path: Path) -> Path:
    x = np.random.default_rng(0).normal(0, 0.1, (8, 512))
    return write_run(path, x, np.arange(8) * 600.0, fs=1500, rpm=1450, events=[{"kind": "failure", "t": 4200.0}])


def test_a_run_counts_the_snapshots_the_engine_could_not_assess_and_why(tmp_path: Path):
    res = evaluate_run(read_run(_slow_sensor_run(tmp_path / "slow")))
    assert res["observations"] == 8
    assert res["unassessed"] == 8
    assert "sample rate 1500 Hz cannot resolve" in res["unassessed_reason"]


def test_a_run_assessed_throughout_has_none_unassessed(tmp_path: Path):
    x = np.random.default_rng(0).normal(0, 0.1, (8, 2560))
    path = write_run(tmp_path / "ok", x, np.arange(8) * 600.0, fs=25600, rpm=1800, events=[])
    res = evaluate_run(read_run(path))
    assert res["observations"] == 8 and res["unassessed"] == 0 and res["unassessed_reason"] is None


def test_the_report_says_when_most_of_a_run_was_not_assessed(capsys, tmp_path: Path):
    _slow_sensor_run(tmp_path / "slow")
    code = main(["evaluate", str(tmp_path / "slow.npz"), "--jobs", "1", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "slow: 8 of 8 snapshots not assessed (cannot assess: sample rate 1500 Hz" in out


def test_a_few_unassessed_snapshots_are_not_flagged():
    run = {"name": "r", "failure_t": None, "first_warning_t": None, "lead_time_s": None, "false_warnings": 0,
           "rul_estimate_s": None, "duration_s": 100.0, "observations": 100, "unassessed": 3,
           "unassessed_reason": "cannot assess: sensor dropout"}
    assert "not assessed" not in render({"runs": [run]})


def test_a_fleet_mostly_not_assessed_says_so_under_its_figures(capsys, tmp_path: Path):
    _slow_sensor_run(tmp_path / "U-1")
    (tmp_path / "truth.json").write_text('{"seed": 0, "start_ms": 0, "end_ms": 4800000, "units": []}')
    code = main(["evaluate", str(tmp_path), "--jobs", "1", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "100% of the snapshots were not assessed" in out


def test_healthy_time_the_engine_could_not_assess_is_not_counted_as_healthy_unit_days(capsys, tmp_path: Path):
    """Found with a gearbox whose sensor spiked for 18 of its 20 days (every snapshot ``unknown``): the fleet
    reported no false warning in 70 healthy unit-days, 17 of which no snapshot had been assessed."""
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('seed = 4\nduration = "2d"\nsnapshot_interval = "1h"\ntelemetry_interval = "10m"\n'
                     '[[units]]\nid = "S-1"\nmodel = "P-1800"\n'
                     'sensor_faults = [{ kind = "spikes", start = "1d", end = "2d" }]\n'
                     '[[units]]\nid = "S-2"\nmodel = "P-1800"\nfault = { kind = "outer_race", onset = "1d", '
                     'failure = "2d" }\nsensor_faults = [{ kind = "spikes", start = "12h", end = "1d" }]\n')
    runs = tmp_path / "runs"
    assert main(["simulate", str(fleet), "--out", str(runs), "--quiet", "--start", "2026-01-01T00:00:00Z"]) == 0
    capsys.readouterr()
    report = tmp_path / "r.json"
    assert main(["evaluate", str(runs), "--jobs", "1", "--quiet", "--json", str(report)]) == 0
    import json

    doc = json.loads(report.read_text())
    s1 = next(r for r in doc["runs"] if r["name"] == "S-1")
    assert s1["healthy_unassessed"] >= 0.9 * s1["healthy_observations"] / 2  # the spiked day
    s = doc["fleet"]["runs"]
    # S-1: about 1 of its 2 days assessed; S-2: about half of its healthy first day
    assert 1.2 <= s["healthy_unit_days"] <= 1.8, s
    assert 0.8 <= s["unassessed_healthy_unit_days"] <= 1.6, s
    out = capsys.readouterr().out
    assert (f"Fleet runs (2 units, {s['healthy_unit_days']} healthy unit-days assessed; "
            f"{s['unassessed_healthy_unit_days']} more not assessed, not counted)") in out, out
