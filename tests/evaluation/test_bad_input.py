"""``foreshock evaluate`` on bad input found by trying it as a stranger: refused with the file and
the problem, with the default worker processes too, never with a traceback or a silent score.

- A bad file met in a worker process (``--jobs`` > 1, the default on a multi-core machine) crashed
  the command with ``TypeError: DatasetError.__init__() missing 1 required positional argument``:
  the error could not be unpickled in the parent. The existing tests all ran with ``--jobs 1``.
- A ``phm2012_truncate_at_t`` after the failure or before the first observation, or on a run
  without a failure event, was scored silently as 0 (or not at all) instead of being refused, and
  an error in that key named the run, not the file.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from foreshock.cli import main
from foreshock.datasets import DatasetError, write_run, write_series


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(["evaluate", *args])
    return code, capsys.readouterr().err


def _run(path: Path, *, failure_t: float | None = 50.0, **meta) -> Path:
    x = np.random.default_rng(0).normal(0, 0.1, (6, 256))
    events = [] if failure_t is None else [{"kind": "failure", "t": failure_t}]
    return write_run(path, x, [10, 20, 30, 40, 50, 60], fs=25600, rpm=1800, events=events, meta=meta)


def test_dataset_error_survives_the_trip_from_a_worker_process():
    err = pickle.loads(pickle.dumps(DatasetError("/data/a.csv", "line 3: bad")))
    assert str(err) == "/data/a.csv: line 3: bad" and err.path == Path("/data/a.csv") and err.problem == "line 3: bad"


def test_a_bad_file_found_by_a_worker_process_is_reported_like_any_other(capsys, tmp_path: Path):
    _run(tmp_path / "good")
    (tmp_path / "empty.csv").write_text("timestamp,value\n")
    code, err = run_cli(capsys, str(tmp_path / "good.npz"), str(tmp_path / "empty.csv"), "--jobs", "2", "--quiet")
    assert code == 2
    assert f"foreshock: error: {tmp_path / 'empty.csv'}: no data rows" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("cut", "failure_t", "says"),
    [
        (1e9, 50.0, "phm2012_truncate_at_t = 1e+09 s is outside the run: it must be at or after the first "
                    "observation (10 s) and before the failure (50 s)"),
        (50.0, 50.0, "phm2012_truncate_at_t = 50 s is outside the run"),  # nothing left to predict
        (5.0, 50.0, "phm2012_truncate_at_t = 5 s is outside the run"),  # before the first snapshot: no estimate
        (30.0, None, "phm2012_truncate_at_t needs a failure event"),
        ("soon", 50.0, "phm2012_truncate_at_t must be a number of seconds, got 'soon'"),
    ],
)
def test_a_truncation_outside_the_run_is_refused_naming_the_sidecar(capsys, tmp_path: Path, cut, failure_t, says):
    path = _run(tmp_path / "cut", failure_t=failure_t, phm2012_truncate_at_t=cut)
    code, err = run_cli(capsys, str(path), "--jobs", "1", "--quiet")
    assert code == 2
    assert f"foreshock: error: {tmp_path / 'cut.json'}: {says}" in err and "Traceback" not in err


def test_a_truncation_inside_the_run_is_scored(capsys, tmp_path: Path):
    path = _run(tmp_path / "cut", phm2012_truncate_at_t=30.0)
    out = tmp_path / "r.json"
    code, err = run_cli(capsys, str(path), "--jobs", "1", "--quiet", "--json", str(out))
    assert code == 0, err
    (run,) = json.loads(out.read_text())["runs"]
    assert run["truncated_at_t"] == 30.0 and run["actual_rul_s"] == 20.0 and 0.0 <= run["phm2012_score"] <= 1.0


def test_a_series_truncated_after_its_failure_is_refused(capsys, tmp_path: Path):
    t0 = 1_700_000_000_000
    path = write_series(tmp_path / "s", [t0 + 600_000 * k for k in range(20)], np.linspace(0.1, 1.0, 20),
                        meta={"unit": "g", "events": [{"kind": "failure", "timestamp": "2023-11-14 23:53:20"}],
                              "phm2012_truncate_at_t": 86400.0})
    code, err = run_cli(capsys, str(path), "--jobs", "1", "--quiet")
    assert code == 2
    assert f"{tmp_path / 's.json'}: phm2012_truncate_at_t = 86400 s is outside the run" in err


@pytest.mark.parametrize("target", ["missing-folder/report.json", "."])
def test_a_json_report_that_cannot_be_written_is_refused_before_evaluating(capsys, tmp_path: Path, monkeypatch,
                                                                           target: str):
    """It was found out only after the evaluation (minutes for the whole corpus), the JSON lost."""
    import evaluation.cli

    def must_not_run(*args, **kwargs):
        raise AssertionError("evaluated before the --json target was checked")

    monkeypatch.setattr(evaluation.cli, "evaluate", must_not_run)
    path = _run(tmp_path / "r")
    code, err = run_cli(capsys, str(path), "--json", str(tmp_path / target), "--jobs", "1", "--quiet")
    assert code == 2 and "Traceback" not in err
    assert f"foreshock: error: --json {tmp_path / target}: " in err
    assert ("does not exist" in err) if target != "." else ("is a folder; give a file name" in err)


def _record(path: Path, **meta) -> Path:
    from foreshock.datasets import write_record

    x = np.random.default_rng(0).normal(0, 0.1, 12000 * 3)
    return write_record(path, x, fs=12000, rpm=1800, meta=meta)


@pytest.mark.parametrize(
    ("meta", "says"),
    [
        # were ValueError / TypeError tracebacks, or (a partial bearing, a string) silently no geometry
        ({"bearing": {"n_balls": "nine", "ball_d": 1, "pitch_d": 2}}, "bearing: n_balls must be a number"),
        ({"bearing": {"n_balls": 9, "ball_d": 5, "pitch_d": 2}}, "bearing: need 0 < ball_d < pitch_d"),
        ({"bearing": {"n_balls": 9.5, "ball_d": 1, "pitch_d": 2}}, "bearing: n_balls must be a whole number"),
        ({"bearing": {"n_balls": 9}}, "bearing must be null or an object with n_balls, ball_d, pitch_d"),
        ({"bearing": "6205"}, "bearing must be null or an object"),
        ({"fault": ["outer_race"]}, "fault must be a string (none, inner_race, outer_race, ball)"),
        # a misspelt truth can never be matched: it was scored silently as a wrong diagnosis ("outer 0%")
        ({"fault": "outer"}, "fault 'outer' is not a fault the diagnosis can name: expected none or one of outer_race"),
    ],
)
def test_a_record_sidecar_that_cannot_be_used_is_refused_naming_it(capsys, tmp_path: Path, meta, says):
    path = _record(tmp_path / "rec", **meta)
    code, err = run_cli(capsys, str(path), "--jobs", "1", "--quiet")
    assert code == 2
    assert f"foreshock: error: {tmp_path / 'rec.json'}: {says}" in err and "Traceback" not in err


def test_a_run_sidecar_with_a_bad_bearing_is_refused_too(capsys, tmp_path: Path):
    path = _run(tmp_path / "run", bearing={"n_balls": 9, "ball_d": 40, "pitch_d": 39})
    code, err = run_cli(capsys, str(path), "--jobs", "1", "--quiet")
    assert code == 2 and f"{tmp_path / 'run.json'}: bearing: need 0 < ball_d < pitch_d" in err


def test_a_record_with_a_good_bearing_is_diagnosed(capsys, tmp_path: Path):
    path = _record(tmp_path / "rec", fault="none",
                   bearing={"n_balls": 9, "ball_d": 0.3126, "pitch_d": 1.537, "contact_deg": 0})
    out = tmp_path / "r.json"
    code, err = run_cli(capsys, str(path), "--jobs", "1", "--quiet", "--json", str(out))
    assert code == 0, err
    (rec,) = json.loads(out.read_text())["records"]
    assert rec["true_fault"] == "none" and rec["snapshots"] == 1


def test_a_misspelt_failure_mode_of_a_run_or_series_is_refused_naming_the_sidecar(capsys, tmp_path: Path):
    x = np.random.default_rng(0).normal(0, 0.1, (6, 256))
    run = write_run(tmp_path / "run", x, [10, 20, 30, 40, 50, 60], fs=25600, rpm=1800,
                    events=[{"kind": "onset", "t": 20.0, "mode": "ball"}, {"kind": "failure", "t": 60.0, "mode": "bal"}])
    code, err = run_cli(capsys, str(run), "--jobs", "1", "--quiet")
    assert code == 2 and "Traceback" not in err
    assert f"foreshock: error: {tmp_path / 'run.json'}: events[1].mode: 'bal' is not a fault the engine can name" in err
    t0 = 1_700_000_000_000
    series = write_series(tmp_path / "s", [t0 + 600_000 * k for k in range(20)], np.linspace(0.1, 1.0, 20),
                          meta={"unit": "g", "events": [{"kind": "failure", "timestamp": "2023-11-15 02:00:00",
                                                         "mode": "outer race"}]})
    code, err = run_cli(capsys, str(series), "--jobs", "1", "--quiet")
    assert code == 2 and f"{tmp_path / 's.json'}: events[0].mode: 'outer race' is not a fault" in err


def test_a_sensor_fault_event_keeps_its_own_mode(capsys, tmp_path: Path):
    x = np.random.default_rng(0).normal(0, 0.1, (6, 256))
    run = write_run(tmp_path / "run", x, [10, 20, 30, 40, 50, 60], fs=25600, rpm=1800,
                    events=[{"kind": "sensor_fault", "t": 20.0, "t_end": 30.0, "mode": "dropout"},
                            {"kind": "failure", "t": 60.0, "mode": "ball"}])
    code, err = run_cli(capsys, str(run), "--jobs", "1", "--quiet")
    assert code == 0, err
