"""Long evaluations and long simulations say how far they have got, not only when a dataset or unit
is finished: a single 20-day simulated run was 9 s of silence in ``foreshock evaluate`` and 21 s in
``foreshock simulate --out``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.discover import discover
from evaluation.harness import evaluate
from foreshock.datasets import write_run


def test_a_run_reports_its_snapshots_while_it_is_fed(tmp_path: Path):
    x = np.random.default_rng(0).normal(0, 0.1, (450, 256))
    write_run(tmp_path / "long", x, np.arange(450) * 60.0, fs=25600, rpm=1800)
    seen: list[tuple[str, int, int]] = []
    report = evaluate(discover([tmp_path]), jobs=1, within=lambda item, done, total: seen.append((item.name, done, total)))
    assert [(name, done) for name, done, _ in seen] == [("long", 0), ("long", 200), ("long", 400)]
    assert {total for _, _, total in seen} == {450}
    assert report["runs"][0]["duration_s"] == 449 * 60.0


def test_writing_a_long_unit_to_files_reports_how_far_it_has_got(tmp_path: Path):
    from simulator.files import write_fleet_files
    from simulator.fleet import load_fleet

    fleet = load_fleet({"seed": 1, "duration": "6h", "units": [{"id": "P-1", "model": "P-1800"}]})
    got: list[dict] = []
    write_fleet_files(fleet, tmp_path, start_ms=1_767_225_600_000, duration_s=6 * 3600, progress=got.append,
                      progress_interval_s=0.0)
    partial = [g for g in got if "unit_hours" in g]
    assert partial and partial[0]["unit_hours"] == 0.0 and partial[-1]["of_hours"] == 6.0
    assert [g["unit_hours"] for g in partial] == sorted(g["unit_hours"] for g in partial)
    assert got[-1]["units_done"] == 1  # and the finished unit last, as before
    assert (tmp_path / "P-1.npz").is_file()


def test_the_partial_progress_line_reads_well(capsys):
    from simulator.cli import _printer

    _printer(False)({"unit_id": "P-1", "unit_n": 1, "units": 3, "unit_hours": 12.5, "of_hours": 48.0})
    assert capsys.readouterr().err == "unit 1/3 P-1: 12.5 of 48.0 simulated hours\n"


def test_a_finished_unit_is_not_followed_at_once_by_the_next_one_at_zero_hours(tmp_path: Path, monkeypatch):
    """Each finished unit's line was followed by "unit 2/10 F-0001: 0.0 of 48.0 simulated hours": writing
    the files took longer than the interval, so the next unit's first emission always printed."""
    import simulator.files
    from simulator.files import write_fleet_files
    from simulator.fleet import load_fleet

    now = [0.0]

    class Clock:  # stands still, except while a unit's files are written: 100 s each, far over the 2 s interval
        @staticmethod
        def monotonic() -> float:
            return now[0]

    write_unit = simulator.files._write_unit

    def slow_write(*args, **kwargs):
        write_unit(*args, **kwargs)
        now[0] += 100.0

    monkeypatch.setattr(simulator.files, "time", Clock)
    monkeypatch.setattr(simulator.files, "_write_unit", slow_write)
    fleet = load_fleet({"seed": 1, "duration": "1h", "units": [{"id": "P-1", "model": "P-1800"},
                                                               {"id": "P-2", "model": "P-1800"}]})
    got: list[dict] = []
    write_fleet_files(fleet, tmp_path, start_ms=1_767_225_600_000, duration_s=3600, progress=got.append)
    assert [g for g in got if "unit_hours" in g] == []  # no time passed while a unit was generated
    assert [g["units_done"] for g in got if "units_done" in g] == [1, 2]


def test_datasets_in_worker_processes_are_named_while_they_take_long(tmp_path: Path):
    """With --jobs > 1 (the default on a multi-core machine) a long run said nothing until it ended:
    ``within`` reaches only datasets fed in the command's own process. The run here is a series read
    from a pipe, which its worker waits on until the test has seen the first 'still evaluating' call."""
    import json
    import os
    import threading

    from foreshock.datasets import write_series

    write_series(tmp_path / "quick", np.arange(5, dtype=np.int64) * 60_000, np.arange(5.0), meta={"events": []})
    os.mkfifo(tmp_path / "slow.csv")
    (tmp_path / "slow.json").write_text(json.dumps({"kind": "series", "name": "slow", "events": []}))
    calls: list[tuple[list[str], float]] = []

    def feed() -> None:  # opened for writing once the worker reads it; then the series ends
        with open(tmp_path / "slow.csv", "w") as fh:
            fh.write("timestamp,value\n" + "".join(f"2026-01-01 00:0{i}:00,{i}\n" for i in range(5)))

    def waiting(items, seconds: float) -> None:
        calls.append(([i.name for i in items], seconds))
        if len(calls) == 1:
            threading.Thread(target=feed, daemon=True).start()

    items = discover([tmp_path / "quick.csv", tmp_path / "slow.csv"])  # named: a folder walk skips a pipe
    report = evaluate(items, jobs=2, waiting=waiting, heartbeat_s=0.2)
    assert calls and "slow" in calls[0][0]
    assert sorted(r["name"] for r in report["runs"]) == ["quick", "slow"]


def test_a_nab_series_reports_its_rows_while_a_detector_scores_it(tmp_path: Path, capsys, monkeypatch):
    """A NAB series scored in the command's own process (--jobs 1, or one series) said nothing until it
    was done: 25 s of silence for machine_temperature_system_failure with a detector taking 1 ms a row,
    minutes with a slower one."""
    import json
    from types import SimpleNamespace

    import evaluation.cli
    from foreshock.cli import main

    data, labels = tmp_path / "data" / "x", tmp_path / "labels"
    data.mkdir(parents=True)
    labels.mkdir()
    rows = [f"2020-01-01 {h:02d}:{m:02d}:00,{(h * 60 + m) % 7}" for h in range(20) for m in range(60)]
    (data / "s.csv").write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    (labels / "combined_windows.json").write_text(json.dumps(
        {"x/s.csv": [["2020-01-01 10:00:00.000000", "2020-01-01 11:00:00.000000"]]}))
    seen: list[tuple[str, int, int]] = []
    evaluate(discover([tmp_path / "data"]), jobs=1, within=lambda item, done, total: seen.append((item.name, done, total)))
    assert [done for _, done, _ in seen] == [0, 500, 1000] and {total for _, _, total in seen} == {1200}

    clock = iter(range(0, 1000, 3))  # each reading 3 s after the last: every report is due
    monkeypatch.setattr(evaluation.cli, "time", SimpleNamespace(monotonic=lambda: float(next(clock))))
    assert main(["evaluate", str(tmp_path / "data"), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "       s: 500/1200 rows" in err and "       s: 1000/1200 rows" in err, err
