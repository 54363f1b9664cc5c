"""``foreshock.datasets`` itself names a damaged compressed npz (a copy cut short, a simulator run
interrupted while writing a unit) as a ``DatasetError``: a ``zlib.error`` escaped it before, and every
caller other than ``foreshock evaluate`` (which catches it at its own boundary) got a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from foreshock.datasets import DatasetError, read, write_run


def test_a_damaged_deflate_stream_is_a_dataset_error_naming_the_file(tmp_path: Path):
    path = write_run(tmp_path / "r", np.random.default_rng(0).normal(0, 0.1, (20, 2048)), np.arange(20) * 10.0,
                     fs=25600, rpm=1800, events=[])
    data = bytearray(path.read_bytes())
    data[1000:1064] = b"\xff" * 64  # inside the deflated 'x': the zip directory stays readable
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="not a readable npz archive") as err:
        read(path)
    assert str(path) in str(err.value)
