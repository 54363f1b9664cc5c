"""A run's ``onset`` event is the truth its false warnings are counted against (warnings before it
are false). One whose time was no number stopped ``foreshock evaluate`` with a ValueError or
TypeError traceback; one before the run's start or after its failure was taken as given. Each is now
refused naming the sidecar and the event, like a failure event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from foreshock.cli import main
from foreshock.datasets import DatasetError, write_run, write_series


def _run_with(tmp_path: Path, onset: dict[str, Any]) -> Path:
    path = write_run(tmp_path / "r", np.random.default_rng(0).normal(0, 0.1, (6, 256)), [0, 10, 20, 30, 40, 50],
                     fs=25600, rpm=1800, events=[])
    doc = json.loads((tmp_path / "r.json").read_text())  # the sidecar edited by hand, past write_run's checks
    doc["events"] = [{"kind": "onset", "mode": "ball", **onset}, {"kind": "failure", "t": 50.0, "mode": "ball"}]
    (tmp_path / "r.json").write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(("onset", "says"), [
    ({"t": "6h"}, "events[0].t: expected a finite number of seconds, got '6h'"),
    ({"t": None}, "events[0].t: expected a finite number of seconds, got None"),
    ({}, "events[0]: onset event needs 't'"),
    ({"t": -5}, "events[0].t: -5 is before the run's start"),
    ({"t": 1e9}, "events[0]: the onset (t 1000000000.0) is after the failure of events[1] (t 50.0): a fault "
                 "begins before it fails"),
])
def test_a_bad_onset_is_refused_naming_the_sidecar(capsys, tmp_path: Path, onset: dict[str, Any], says: str) -> None:
    path = _run_with(tmp_path, onset)
    code = main(["evaluate", str(path), "--jobs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"foreshock: error: {tmp_path / 'r.json'}: {says}" in err, err


def test_a_good_onset_counts_and_a_series_onset_is_checked_too(capsys, tmp_path: Path) -> None:
    path = _run_with(tmp_path, {"t": 20.0})
    assert main(["evaluate", str(path), "--jobs", "1", "--quiet"]) == 0
    capsys.readouterr()
    with pytest.raises(DatasetError, match=r"events\[0\]: the onset \(timestamp 2023-11-15T00:00:00.000\) is after "
                                           r"the failure of events\[1\]"):
        write_series(tmp_path / "s", [1_700_000_000_000, 1_700_000_600_000], [1.0, 2.0], meta={"events": [
            {"kind": "onset", "timestamp": "2023-11-15 00:00:00"},
            {"kind": "failure", "timestamp": "2023-11-14 23:00:00"}]})
