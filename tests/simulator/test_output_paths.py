"""``foreshock simulate``: every output path (``--out``, ``--truth``) is checked before anything is
created, and a refused or failed run leaves nothing half-made behind.

Found with ``foreshock simulate demo --out X --truth /proc/forbidden.json``: the command failed with a
clear message, but only after it had created the folder X, left behind empty; ``--truth`` in a new
folder made that folder before the broker was tried, left empty when it could not be reached; and
``--out runs --truth runs/P-1.json`` replaced the run's own sidecar with the truth, so that
``foreshock evaluate runs`` then refused the run ("no 'events'").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foreshock.cli import main
from tests.simulator.test_cli_arguments import fleet  # noqa: F401  (the fixture: a one-unit fleet, no broker)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_an_unwritable_truth_leaves_no_out_folder(fleet, tmp_path, capsys):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc")
    before = _tree(tmp_path)
    out = tmp_path / "X"
    code = main(["simulate", str(fleet), "--out", str(out), "--truth", "/proc/forbidden.json", "--quiet"])
    assert code == 1
    assert "--truth /proc/forbidden.json: no file can be made in /proc" in capsys.readouterr().err
    assert not out.exists() and _tree(tmp_path) == before


def test_an_out_folder_in_a_new_path_is_not_made_when_the_truth_is_refused(fleet, tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder is needed")
    before = _tree(tmp_path)
    code = main(["simulate", str(fleet), "--out", str(tmp_path / "a" / "b" / "runs"),
                 "--truth", str(blocker / "truth.json"), "--quiet"])
    assert code == 1
    assert f"--truth {blocker / 'truth.json'}: cannot create its folder: {blocker} is not a folder" \
        in capsys.readouterr().err
    assert _tree(tmp_path) == before


def test_an_out_folder_below_a_file_is_refused_naming_it(fleet, tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    assert main(["simulate", str(fleet), "--out", str(blocker / "runs"), "--quiet"]) == 1
    assert f"--out {blocker / 'runs'}: cannot create the folder: {blocker} is not a folder" in capsys.readouterr().err
    assert blocker.read_text() == "x"


def test_a_truth_folder_is_not_made_when_publishing_fails(fleet, tmp_path, capsys):
    truth = tmp_path / "new" / "deeper" / "truth.json"
    assert main(["simulate", str(fleet), "--truth", str(truth), "--speed", "1000", "--quiet"]) == 3  # no broker
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("name", ["P-1.json", "P-1.npz", "P-1_speed_rpm.csv", "P-1_velocity_mm_s.json"])
def test_a_truth_over_a_file_of_the_run_is_refused(fleet, tmp_path, capsys, name):
    out = tmp_path / "runs"
    code = main(["simulate", str(fleet), "--out", str(out), "--truth", str(out / name), "--quiet"])
    assert code == 2
    assert (f"--truth {out / name}: is a file this run writes into --out (unit P-1's); give another name "
            "(the truth is also written to truth.json there)") in capsys.readouterr().err
    assert not out.exists()


def test_a_truth_that_is_the_out_folder_is_refused(fleet, tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["simulate", str(fleet), "--out", str(out), "--truth", str(out), "--quiet"]) == 2
    assert f"--truth {out}: is the --out folder; give a file name" in capsys.readouterr().err
    assert not out.exists()


def test_the_truth_beside_the_files_and_in_a_new_folder_still_works(fleet, tmp_path, capsys):
    out = tmp_path / "runs"
    other = tmp_path / "t" / "u" / "truth.json"
    assert main(["simulate", str(fleet), "--out", str(out), "--truth", str(out / "truth.json"), "--quiet"]) == 0
    assert json.loads((out / "truth.json").read_text())["units"][0]["unit_id"] == "P-1"
    assert json.loads((out / "P-1.json").read_text())["events"] == []
    assert main(["simulate", str(fleet), "--out", str(tmp_path / "runs2"), "--truth", str(other), "--quiet"]) == 0
    assert json.loads(other.read_text())["units"][0]["unit_id"] == "P-1"


def test_a_failure_while_writing_removes_the_out_folder_it_made(fleet, tmp_path, capsys, monkeypatch):
    import simulator.files

    def full(*args, **kwargs):  # what a full disk does at the first unit
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(simulator.files, "write_run", full)
    out = tmp_path / "new" / "runs"
    code = main(["simulate", str(fleet), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and f"--out {out}: cannot write the run's files: No space left on device" in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    ("units", "says"),
    [
        ([("truth", "P-1800")], "unit 'truth': its file truth.json would also be the fleet's ground truth"),
        ([("A", "P-1800"), ("A_speed_rpm", "P-1800")],
         "unit 'A_speed_rpm': its file A_speed_rpm.json would also be a file of unit 'A'"),
        ([("a.json", "P-1800")], "unit 'a.json': an id ending in .json is taken for a file name: its run would be "
                                 "written as a.npz and a.json"),
    ],
)
def test_unit_ids_whose_files_clash_are_refused_for_out(tmp_path, monkeypatch, capsys, units, says):
    """A unit ``truth`` wrote its run's sidecar as truth.json, replaced by the ground truth, so that ``foreshock
    evaluate`` refused the run; a unit ``a.json`` was written as ``a.npz``; unit ``A_speed_rpm``'s sidecar and
    unit ``A``'s speed series' were one file. The ids are valid device ids: publishing them is fine."""
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('seed = 1\nduration = "30m"\n' + "".join(
        f'[[units]]\nid = "{uid}"\nmodel = "{model}"\n' for uid, model in units))
    out = tmp_path / "runs"
    assert main(["simulate", str(fleet), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: {says}; rename the unit to write the fleet to files" in err, err
    assert not out.exists()
