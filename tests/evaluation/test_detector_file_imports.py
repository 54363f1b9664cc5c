"""``--scalar-detector FILE.py:NAME`` whose file imports a module beside it (``from helpers import
scale``), as any script may: the file's folder was not on the import path, so the detector was
refused with ``ModuleNotFoundError: No module named 'helpers'``, even when the command ran from that
folder (the ``foreshock`` command's own folder is the one on the path, not the working one)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from foreshock.cli import main


def _corpus(root: Path) -> Path:
    path = root / "data" / "g" / "a.csv"
    path.parent.mkdir(parents=True)
    path.write_text("timestamp,value\n" + "".join(f"2020-01-01 00:{m:02d}:00,{m * 0.37}\n" for m in range(40)))
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps({"g/a.csv": []}))
    return root


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_detector_file_imports_the_modules_beside_it(capsys, monkeypatch, tmp_path: Path, jobs: str) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the command may add the file's folder
    folder = tmp_path / f"mine{jobs}"
    folder.mkdir()
    helper = f"scaling_helpers_{jobs}"  # a module name of its own per case: imported modules stay cached
    (folder / f"{helper}.py").write_text("def scale(v):\n    return abs(v) % 1.0\n")
    (folder / "mydet.py").write_text(f"from {helper} import scale\n\n\nclass Mine:\n"
                                     "    def score_one(self, x):\n        return scale(x['value'])\n\n"
                                     "    def learn_one(self, x):\n        pass\n")
    code = main(["evaluate", str(_corpus(tmp_path / "nab")), "--scalar-detector", f"{folder / 'mydet.py'}:Mine",
                 "--jobs", jobs, "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"detector: {folder / 'mydet.py'}:Mine" in out
