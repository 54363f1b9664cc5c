"""The monitor on real runs to failure: IMS test 2 bearing 1 (scalar series) and a FEMTO run."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from detectors import MachineInfo, Snapshot, UnitMonitor
from detectors.types import HEALTH_ORDER

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def _first_warning(assessments: list[tuple[float, str]]) -> float | None:
    return next((t for t, s in assessments if HEALTH_ORDER[s] >= HEALTH_ORDER["warning"]), None)


@pytest.mark.skipif(not (DATA / "ims").is_dir(), reason="IMS data not present")
def test_ims_test2_bearing1_warned_60_hours_early_and_not_in_the_first_half() -> None:
    path = DATA / "ims" / "test2" / "bearing1.csv"
    rows = list(csv.DictReader(path.open()))
    ts = [datetime.fromisoformat(r["timestamp"]).replace(tzinfo=UTC).timestamp() for r in rows]
    mon = UnitMonitor(MachineInfo(rated_rpm=2000))
    seen = []
    for t, r in zip(ts, rows):
        a = mon.update_scalars(t, {"mean_abs_g": float(r["value"])})
        assert a is not None
        seen.append((t, a.state))
    warned = _first_warning(seen)
    assert warned is not None
    assert warned > ts[0] + (ts[-1] - ts[0]) / 2
    assert ts[-1] - warned >= 60 * 3600


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "femto").is_dir(), reason="FEMTO data not present")
@pytest.mark.parametrize("name", ["Bearing1_1", "Bearing1_2", "Bearing2_1", "Bearing2_2", "Bearing3_1", "Bearing3_2"])
def test_femto_warned_before_failure_not_in_the_first_half(name: str) -> None:
    meta = json.loads((DATA / "femto" / f"{name}.json").read_text())
    data = np.load(DATA / "femto" / f"{name}.npz")
    fail = meta["events"][0]["t"]
    fs, rpm = float(data["fs"]), float(data["rpm"])
    mon = UnitMonitor(MachineInfo(rated_rpm=rpm))  # PRONOSTIA publishes no bearing geometry
    seen = [(float(t), mon.update_snapshot(Snapshot(float(t), fs, x.astype(np.float32), rpm=rpm)).state)
            for t, x in zip(data["t"], data["x"])]
    warned = _first_warning(seen)
    assert warned is not None and fail / 2 < warned < fail
