"""Files named ``.npz`` that are not the npz an engineer meant, given to ``foreshock evaluate``: each
refused naming the file and what it is instead.

- a bare array written with ``numpy.save`` and renamed ``.npz``: a ``TypeError`` traceback (``np.load``
  gives the array, not an archive);
- a text file (or anything else that is no zip): numpy's words about pickled data and
  ``allow_pickle``, which the user never asked for;
- an empty file: "No data left in file";
- an array of Python objects: numpy's ``allow_pickle`` words, not which array;
- a zip cut short: "File is not a zip file", not that it was cut short;
- a Git LFS pointer in place of the data: numpy's words about pickled data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from foreshock.cli import main


def _bare_array(path: Path) -> None:
    np.save(path.with_suffix(".npy"), np.zeros(64))
    path.with_suffix(".npy").rename(path)


def _cut_short(path: Path) -> None:
    np.savez_compressed(path, x=np.random.default_rng(0).normal(0, 0.1, 4096), fs=12000.0, rpm=1800.0)
    path.write_bytes(path.read_bytes()[:2000])


@pytest.mark.parametrize(("make", "says"), [
    (_bare_array, "not a readable npz archive: it holds one bare array (numpy.save's .npy format), not the named "
                  "arrays 'x', 'fs', 'rpm' of an npz (numpy.savez)"),
    (lambda p: p.write_text("time,accel\n0,0.1\n"),
     "not a readable npz archive: not a zip of arrays as numpy.savez writes (the file starts with b'time,acc')"),
    (lambda p: p.write_bytes(b""), "not a readable npz archive: the file is empty"),
    (lambda p: np.savez(p, x=np.array([{"g": 1.0}], dtype=object), fs=12000.0, rpm=1800.0),
     "array 'x' holds Python objects (dtype object), not numbers: store it as floats"),
    (_cut_short, "not a readable npz archive: a zip archive cut short or damaged (File is not a zip file): "
                 "copy or write it again"),
    (lambda p: p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 12626279\n"),
     "not a readable npz archive: a Git LFS pointer, not the data (fetch it: git lfs pull)"),
], ids=["npy", "text", "empty", "objects", "cut-short", "lfs-pointer"])
def test_a_file_that_is_no_npz_is_refused_saying_what_it_is(capsys, tmp_path: Path, make, says: str) -> None:
    path = tmp_path / "rec.npz"
    make(path)
    code = main(["evaluate", str(path), "--jobs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"foreshock: error: {path}: {says}" in err, err
    assert "allow_pickle" not in err
