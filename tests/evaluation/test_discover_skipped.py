"""A folder holding files in no format read here says which were skipped, and hidden folders are not
walked.

Found with a folder of known and unknown files: a ``.mat`` recording and a sidecar whose ``.npz`` had
not been copied were passed over without a word (the report then looked complete), and a
simulator's unit left half-written in its hidden staging folder (a killed ``simulate --out``) was
evaluated as data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.discover import discover
from foreshock.cli import main
from foreshock.datasets import write_record, write_run


def _folder(tmp_path: Path) -> Path:
    x = np.random.default_rng(0).normal(0, 0.1, 12000)
    write_record(tmp_path / "good", x, fs=12000, rpm=1800, meta={"fault": "none"})
    write_record(tmp_path / "lost", x, fs=12000, rpm=1800, meta={"fault": "none"})
    (tmp_path / "lost.npz").unlink()  # its sidecar stays behind
    (tmp_path / "raw.mat").write_bytes(b"MATLAB 5.0")
    (tmp_path / "README.md").write_text("about the data")
    (tmp_path / "LICENSE").write_text("licence")
    return tmp_path


def test_files_like_data_in_no_format_read_here_are_listed(tmp_path: Path):
    skipped: list[Path] = []
    items = discover([_folder(tmp_path)], skipped)
    assert [i.name for i in items] == ["good"]
    assert skipped == [tmp_path / "lost.json", tmp_path / "raw.mat"]  # not the README or the licence


def test_the_command_says_what_it_skipped(capsys, tmp_path: Path):
    assert main(["evaluate", str(_folder(tmp_path)), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 file(s) in no dataset format read here" in err
    assert f"{tmp_path / 'lost.json'}, {tmp_path / 'raw.mat'}" in err


def test_hidden_folders_are_not_walked(tmp_path: Path):
    x = np.random.default_rng(0).normal(0, 0.1, (3, 256))
    write_run(tmp_path / "P-1", x, [0.0, 10.0, 20.0], fs=25600, rpm=1800, events=[])
    write_run(tmp_path / ".writing-P-2" / "P-2", x, [0.0, 10.0, 20.0], fs=25600, rpm=1800, events=[])
    assert [i.name for i in discover([tmp_path])] == ["P-1"]
