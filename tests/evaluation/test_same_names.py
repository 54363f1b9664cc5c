"""Two runs of one name (the same unit ids in two simulated fleets) are told apart in the report and
in a comparison, and two fleet folders of one name are both summarised.

Found evaluating two simulations of the same fleet file (``--seed`` 11 and 12) together: the report
listed PX-0001 twice with nothing to say which fleet each came from, a comparison matched runs by
name (the second of each name silently replaced the first), and two fleets in folders of one name
(``a/runs``, ``b/runs``) came out as one summary.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from evaluation.compare import compare
from evaluation.discover import discover
from evaluation.harness import evaluate
from evaluation.report import render
from foreshock.datasets import write_run


def _fleet(folder: Path, scale: float = 1.0) -> None:
    x = np.random.default_rng(0).normal(0, 0.1, (6, 256)) * scale
    write_run(folder / "P-1", x, [10, 20, 30, 40, 50, 60], fs=25600, rpm=1800, events=[])
    (folder / "truth.json").write_text(json.dumps({"seed": 0, "start_ms": 0, "end_ms": 60000, "units": []}))


def test_runs_of_one_name_in_two_fleets_are_labelled_by_their_folder(tmp_path: Path):
    _fleet(tmp_path / "seed11")
    _fleet(tmp_path / "seed12")
    report = evaluate(discover([tmp_path / "seed11", tmp_path / "seed12"]))
    assert [r["source"] for r in report["runs"]] == [str(tmp_path / "seed11" / "P-1.npz"),
                                                     str(tmp_path / "seed12" / "P-1.npz")]
    text = render(report)
    assert "  seed11/P-1 " in text and "  seed12/P-1 " in text


def test_two_fleet_folders_of_one_name_are_both_summarised(tmp_path: Path):
    _fleet(tmp_path / "a" / "runs")
    _fleet(tmp_path / "b" / "runs")
    report = evaluate(discover([tmp_path / "a" / "runs", tmp_path / "b" / "runs"]))
    assert sorted(report["fleet"]) == [str(tmp_path / "a" / "runs"), str(tmp_path / "b" / "runs")]
    assert all(s["units"] == 1 for s in report["fleet"].values())


def test_a_comparison_matches_runs_of_one_name_by_their_folder():
    def runs(lead_a: float, lead_b: float) -> dict:
        return {"runs": [{"name": "P-1", "source": "a/P-1.npz", "lead_time_s": lead_a},
                         {"name": "P-1", "source": "b/P-1.npz", "lead_time_s": lead_b}]}

    c = compare(runs(100.0, 50.0), runs(100.0, 20.0))
    assert c["runs"] == [{"name": "b/P-1", "changed": {"lead_time_s": [50.0, 20.0]}}]
    assert c["runs_compared"] == 2
