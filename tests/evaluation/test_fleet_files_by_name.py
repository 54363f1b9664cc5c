"""Files of a simulated fleet's folder given to ``foreshock evaluate`` by name.

A fleet's telemetry series (``UNIT_VALUE.csv``) are not evaluated on their own: the fleet is scored
on its runs. Given by name, one was dropped without a word: alone, the command said "no dataset
found under runs/P-0001_temperature_c.csv" of a file that is there and valid; beside a run it was
silently left out of the report. ``truth.json`` given by name (``runs/*``) was "not a dataset
sidecar (a JSON object with a 'kind')".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foreshock.cli import main
from simulator.files import write_fleet_files
from simulator.fleet import load_fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fleet") / "runs"
    doc = {"duration": "2h", "snapshot_interval": "30m", "telemetry_interval": "60s",
           "units": [{"id": "P-0001", "model": "P-1800"}]}
    write_fleet_files(load_fleet(doc), out, start_ms=1_700_000_000_000, duration_s=7200)
    return out


def _evaluate(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["evaluate", *args, "--jobs", "1"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["P-0001_temperature_c.csv", "P-0001_temperature_c.json"])
def test_a_fleet_series_alone_is_refused_saying_why(capsys, fleet: Path, name: str) -> None:
    code, _, err = _evaluate(capsys, str(fleet / name), "--quiet")
    assert code == 2 and "Traceback" not in err
    assert (f"foreshock: error: {fleet / name}: telemetry series of a simulated fleet (the folder holds "
            "truth.json), not evaluated on their own: a fleet is scored on its runs (UNIT.npz)") in err, err


def test_a_fleet_series_beside_a_run_is_said_to_be_left_out(capsys, fleet: Path, tmp_path: Path) -> None:
    out_json = tmp_path / "r.json"
    code, _, err = _evaluate(capsys, str(fleet / "P-0001_speed_rpm.csv"), str(fleet / "P-0001.npz"),
                             "--json", str(out_json))
    assert code == 0, err
    assert f"left out {fleet / 'P-0001_speed_rpm.csv'}: telemetry series of a simulated fleet" in err
    assert [r["name"] for r in json.loads(out_json.read_text())["runs"]] == ["P-0001"]


def test_the_ground_truth_by_name_is_refused_pointing_to_its_folder(capsys, fleet: Path) -> None:
    code, _, err = _evaluate(capsys, str(fleet / "P-0001.npz"), str(fleet / "truth.json"), "--quiet")
    assert code == 2
    assert (f"foreshock: error: {fleet / 'truth.json'}: a simulator's ground truth, not a dataset: give its "
            "folder") in err, err
