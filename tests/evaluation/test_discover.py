"""Which datasets ``foreshock evaluate`` finds under its paths, and how it classifies them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.discover import discover
from evaluation.nab_corpus import label_windows
from foreshock.datasets import DatasetError, write_record, write_run, write_series


def _series(path: Path, events: list | None = None) -> Path:
    ts = np.arange(10, dtype=np.int64) * 60_000 + 1_700_000_000_000
    return write_series(path, ts, np.arange(10.0), meta={"events": events or []})


def test_folder_walk_classifies_and_skips_sidecars_and_other_files(tmp_path: Path) -> None:
    _series(tmp_path / "temp")
    _series(tmp_path / "ims", events=[{"kind": "failure", "timestamp": "2023-11-14 22:20:00"}])
    write_record(tmp_path / "sub" / "rec", np.zeros(512, dtype=np.float32) + 0.1, fs=12000.0, rpm=1800.0)
    write_run(tmp_path / "sub" / "run", np.zeros((3, 256)), [0.0, 10.0, 20.0], fs=25600.0, rpm=1800.0)
    (tmp_path / "README.md").write_text("not data")
    (tmp_path / "LICENSE.txt").write_text("not data")
    kinds = {i.name: i.kind for i in discover([tmp_path])}
    assert kinds == {"temp": "series", "ims": "series", "rec": "record", "run": "run"}


def test_nab_labels_are_found_above_the_series_and_matched_by_relative_path(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    csv = _series(root / "data" / "group" / "s")
    other = _series(root / "data" / "group" / "unlabelled")
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(
        {"group/s.csv": [["2023-11-14 22:14:20.000000", "2023-11-14 22:16:20.000000"]]}))
    windows = label_windows(csv)
    assert windows is not None and len(windows) == 1
    assert windows[0][0] == np.datetime64("2023-11-14T22:14:20", "ms")
    assert label_windows(other) is None
    kinds = {i.name: i.kind for i in discover([root])}
    assert kinds == {"s": "nab", "unlabelled": "series"}
    # the same file given directly, by its sidecar or by its stem, is found once
    assert len(discover([csv, csv.with_suffix(".json"), csv.with_suffix("")])) == 1


def test_fleet_folder_runs_carry_their_fleet_and_series_are_left_out(tmp_path: Path) -> None:
    write_run(tmp_path / "U-1", np.zeros((3, 256)), [0.0, 10.0, 20.0], fs=25600.0, rpm=1800.0)
    _series(tmp_path / "U-1_temperature_c")
    (tmp_path / "truth.json").write_text(json.dumps({"seed": 0, "start_ms": 0, "end_ms": 1, "units": []}))
    items = discover([tmp_path])
    assert [(i.name, i.kind, i.fleet) for i in items] == [("U-1", "run", tmp_path)]


def test_bad_label_file_is_refused_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    csv = _series(root / "data" / "g" / "s")
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text("{not json")
    with pytest.raises(DatasetError, match="combined_windows.json: cannot read NAB labels"):
        discover([csv])


def test_json_that_is_no_sidecar_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text("[1, 2]")
    with pytest.raises(DatasetError, match="x.json: not a dataset sidecar"):
        discover([p])
