"""A folder given to ``foreshock evaluate`` whose data file is a link to nothing (a git-annex file not
fetched, a target moved away): the walk left it out without a word, and the report lacked a dataset
the engineer believed was in it. Now refused naming the file and where it points."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foreshock.cli import main
from foreshock.datasets import write_run


def test_a_data_file_linking_to_nothing_is_refused(capsys, tmp_path: Path) -> None:
    write_run(tmp_path / "ok", np.zeros((3, 256)) + 0.1, [0.0, 10.0, 20.0], fs=25600, rpm=1800, events=[])
    (tmp_path / "gone.npz").symlink_to(tmp_path / "annex" / "objects" / "gone.npz")
    code = main(["evaluate", str(tmp_path), "--jobs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert (f"foreshock: error: {tmp_path / 'gone.npz'}: a link to {tmp_path / 'annex' / 'objects' / 'gone.npz'}, "
            "which does not exist (a git-annex file not fetched, or a moved target?)") in err, err


def test_a_link_to_a_data_file_is_read(capsys, tmp_path: Path) -> None:
    write_run(tmp_path / "store" / "r", np.zeros((3, 256)) + 0.1, [0.0, 10.0, 20.0], fs=25600, rpm=1800, events=[])
    (tmp_path / "view").mkdir()
    for name in ("r.npz", "r.json"):
        (tmp_path / "view" / name).symlink_to(tmp_path / "store" / name)
    assert main(["evaluate", str(tmp_path / "view"), "--jobs", "1", "--quiet"]) == 0
    assert "r " in capsys.readouterr().out
