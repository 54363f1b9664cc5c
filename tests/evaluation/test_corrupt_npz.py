"""An npz whose compressed data are damaged (a copy cut short, a simulator run interrupted while a
unit was being written) is refused naming the file, not a ``zlib.error`` traceback.

Found by interrupting ``foreshock simulate --out`` and evaluating the folder: ``zlib.error: Error -3
while decompressing data`` escaped from ``foreshock.datasets`` (which catches the zip errors, not
zlib's) through ``foreshock evaluate``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from foreshock.cli import main
from foreshock.datasets import write_run


def _damaged(tmp_path: Path, *, sidecar: bool) -> Path:
    path = write_run(tmp_path / "r", np.random.default_rng(0).normal(0, 0.1, (20, 2048)), np.arange(20) * 10.0,
                     fs=25600, rpm=1800, events=[])
    data = bytearray(path.read_bytes())
    data[1000:1064] = b"\xff" * 64  # inside the deflated 'x': the zip directory stays readable
    path.write_bytes(bytes(data))
    if not sidecar:  # the kind then comes from the data file itself
        (tmp_path / "r.json").unlink()
    return path


@pytest.mark.parametrize("sidecar", [True, False], ids=["read", "detected"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_damaged_compressed_data_are_refused_naming_the_file(capsys, tmp_path: Path, sidecar: bool, jobs: str):
    path = _damaged(tmp_path, sidecar=sidecar)
    other = write_run(tmp_path / "ok", np.zeros((3, 256)) + 0.1, [0.0, 10.0, 20.0], fs=25600, rpm=1800, events=[])
    code = main(["evaluate", str(path), str(other), "--jobs", jobs, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"foreshock: error: {path}: not a readable npz archive" in err
