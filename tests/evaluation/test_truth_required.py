"""A dataset whose sidecar does not say the truth is refused, not scored against a guess.

Found by an engineer who deleted a key from a sidecar: a CWRU record without ``fault`` was scored
as a healthy record diagnosed wrong (``wrong: ... true None, diagnosed inner_race``, ``accuracy:
none 0%``), and a FEMTO run without ``events`` as a run that never failed, its seven warnings all
counted false. A run or series that did not fail says so with ``"events": []``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from foreshock.cli import main
from foreshock.datasets import write_record, write_run, write_series


def _evaluate(capsys, path: Path) -> tuple[int, str, str]:
    code = main(["evaluate", str(path), "--jobs", "1", "--quiet"])
    out = capsys.readouterr()
    return code, out.out, out.err


def _drop(sidecar: Path, key: str) -> None:
    doc = json.loads(sidecar.read_text())
    del doc[key]
    sidecar.write_text(json.dumps(doc))


def test_a_record_whose_sidecar_has_no_fault_is_refused(capsys, tmp_path: Path):
    x = np.random.default_rng(0).normal(0, 0.1, 12000)
    path = write_record(tmp_path / "rec", x, fs=12000, rpm=1800, meta={"fault": "inner_race"})
    _drop(tmp_path / "rec.json", "fault")
    code, out, err = _evaluate(capsys, path)
    assert code == 2 and "Traceback" not in err and "accuracy" not in out
    assert f"foreshock: error: {tmp_path / 'rec.json'}: no 'fault'" in err


def test_a_record_with_no_sidecar_at_all_is_refused_the_same_way(capsys, tmp_path: Path):
    x = np.random.default_rng(0).normal(0, 0.1, 12000)
    path = write_record(tmp_path / "rec", x, fs=12000, rpm=1800, meta={"fault": "none"})
    (tmp_path / "rec.json").unlink()
    code, _, err = _evaluate(capsys, path)
    assert code == 2 and f"{tmp_path / 'rec.json'}: no 'fault'" in err


def test_a_run_whose_sidecar_has_no_events_is_refused(capsys, tmp_path: Path):
    x = np.random.default_rng(0).normal(0, 0.1, (6, 256))
    path = write_run(tmp_path / "run", x, [10, 20, 30, 40, 50, 60], fs=25600, rpm=1800,
                     events=[{"kind": "failure", "t": 60.0}])
    _drop(tmp_path / "run.json", "events")
    code, out, err = _evaluate(capsys, path)
    assert code == 2 and "Runs" not in out
    assert f"foreshock: error: {tmp_path / 'run.json'}: no 'events'" in err and '"events": []' in err


def test_a_failure_series_whose_sidecar_has_no_events_is_refused(capsys, tmp_path: Path):
    ts = np.arange(20, dtype=np.int64) * 600_000 + 1_700_000_000_000
    path = write_series(tmp_path / "s", ts, np.arange(20.0), meta={"events": []})
    _drop(tmp_path / "s.json", "events")
    code, _, err = _evaluate(capsys, path)
    assert code == 2 and f"{tmp_path / 's.json'}: no 'events'" in err
    # a series' failure is stamped like its rows: the message gave a run's "t" (seconds) instead
    assert '"timestamp": "YYYY-MM-DD HH:MM:SS"' in err and '"t": ...' not in err


def test_a_nab_series_copied_out_of_its_corpus_is_refused_saying_what_it_lacks(capsys, tmp_path: Path):
    (tmp_path / "nyc_taxi.csv").write_text("timestamp,value\n2014-07-01 00:00:00,10844\n2014-07-01 00:30:00,8127\n")
    code, _, err = _evaluate(capsys, tmp_path / "nyc_taxi.csv")
    assert code == 2
    assert (f"{tmp_path / 'nyc_taxi.json'}: no 'events': a series outside a NAB corpus (data/ beside "
            "labels/combined_windows.json) is judged as a failure series") in err, err


def test_a_run_that_says_it_did_not_fail_is_evaluated(capsys, tmp_path: Path):
    x = np.random.default_rng(0).normal(0, 0.1, (6, 256))
    path = write_run(tmp_path / "run", x, [10, 20, 30, 40, 50, 60], fs=25600, rpm=1800, events=[])
    code, out, _ = _evaluate(capsys, path)
    assert code == 0 and "Runs (1)" in out
