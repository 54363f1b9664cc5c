"""A simulated fleet's unit that sent no snapshot in the run has no run file: ``foreshock evaluate``
left it out of the fleet's summary without a word ("2 units" of a fleet of 3, its failure not counted).

Found with a fleet whose unit had a dropout over the whole run: the simulator logged that it wrote no
run file, and the evaluation then summarised the fleet as if the unit had never been in it.
"""

from __future__ import annotations

import json
from pathlib import Path

from foreshock.cli import main

FLEET = """
seed = 2
duration = "2h"
snapshot_interval = "10m"
[[units]]
id = "D-1"
model = "P-1800"
sensor_faults = [{ kind = "dropout", start = "0s", end = "2h" }]
[[units]]
id = "D-2"
model = "P-1800"
"""


def test_a_unit_without_a_run_is_named_in_the_fleet_summary(tmp_path: Path, capsys) -> None:
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(FLEET)
    runs = tmp_path / "runs"
    assert main(["simulate", str(fleet), "--out", str(runs), "--quiet", "--start", "2026-01-01T00:00:00Z"]) == 0
    assert not (runs / "D-1.npz").exists()
    capsys.readouterr()
    report = tmp_path / "r.json"
    assert main(["evaluate", str(runs), "--jobs", "1", "--quiet", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    s = json.loads(report.read_text())["fleet"]["runs"]
    assert s["units"] == 1 and s["units_without_run"] == ["D-1"]
    assert "Fleet runs (1 units, " in out
    assert ("  1 unit of truth.json has no run file (it sent no snapshot in the run: silent, stopped or failed "
            "throughout), not scored: D-1") in out, out


def test_a_fleet_of_whole_units_says_nothing_more(tmp_path: Path, capsys) -> None:
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(FLEET.replace('sensor_faults = [{ kind = "dropout", start = "0s", end = "2h" }]', ""))
    runs = tmp_path / "runs"
    assert main(["simulate", str(fleet), "--out", str(runs), "--quiet", "--start", "2026-01-01T00:00:00Z"]) == 0
    capsys.readouterr()
    report = tmp_path / "r.json"
    assert main(["evaluate", str(runs), "--jobs", "1", "--quiet", "--json", str(report)]) == 0
    assert "no run file" not in capsys.readouterr().out
    assert json.loads(report.read_text())["fleet"]["runs"]["units_without_run"] == []
