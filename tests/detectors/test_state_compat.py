"""A unit's state saved by the version before the compact state (the service's database after an
upgrade) loads, and the unit goes on to the same conclusions as that version did.

``data/state_5f3b796.json`` was written by this file run as a script on the tree before (commit
5f3b796): a unit 190 snapshots into a 200-snapshot commissioning, with scalar series sent together and
one sent alone, its scalar baselines learnt, one series with a cycle; every part whose saved form
has changed since is there in its old form (the T² rows, the commissioning trend's points, each
scalar trend's times, a series' last values as a list, the anomaly channels' table and blocks with
their counts). With it, that version's assessments of the next two hours: the commissioning ends,
then a bearing fault and a temperature rise develop.

    PYTHONPATH=<the old tree> python tests/detectors/test_state_compat.py   # rewrites the file
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import detectors
from detectors import MachineInfo, UnitMonitor
from detectors.types import Assessment
from tests.detectors.sim import GEO, RPM, machine_signal, snap

MACHINE = MachineInfo(rated_rpm=RPM, bearing=GEO)
CONFIG = {"warmup": 200, "scalar_warmup_s": 2 * 3600.0}
FIXTURE = Path(__file__).parent / "data" / "state_5f3b796.json"
T0 = 1_732_000_000.0
SAVED_AT, END = 190, 310  # minutes


def _inputs(rng: np.random.Generator, i: int) -> tuple[float, dict, dict, object]:
    """Minute ``i``: its time, the record of the series sent together, the one sent alone, the snapshot."""
    ts = T0 + i * 60.0 + int(rng.integers(0, 1000)) / 1000
    heat = 1.0 if i < 250 else 1.03 ** (i - 250)  # the bearing temperature rises from minute 250
    together = {"bearing_temperature_c": float(45 * heat + rng.normal(0, 0.3)),
                "pressure_bar": float(4 + 0.5 * np.sin(2 * np.pi * i / 20) + rng.normal(0, 0.05)),  # a cycle
                "current_g": float(abs(rng.normal(0.2, 0.02)))}
    alone = {"flow_m3h": float(30 + rng.normal(0, 0.5))}
    defect = 0.0 if i < 230 else 0.02 * np.exp((i - 230) / 12)  # a bearing fault from minute 230
    return ts, together, alone, snap(ts + 2.5, machine_signal(rng, defect=defect))


def _step(mon: UnitMonitor, rng: np.random.Generator, i: int) -> list[Assessment]:
    ts, together, alone, s = _inputs(rng, i)
    out = [mon.update_scalars(ts, together), mon.update_scalars(ts + 1.0, alone), mon.update_snapshot(s)]
    return [a for a in out if a is not None]


def _said(a: Assessment) -> list:
    return [a.state, a.failure_mode, a.ttf_s]


def _run() -> dict:
    """What the tree this runs on saves at SAVED_AT and concludes after."""
    rng = np.random.default_rng(20)
    mon = UnitMonitor(MACHINE, **CONFIG)
    for i in range(SAVED_AT):
        _step(mon, rng, i)
    state = mon.state_dict()
    rng_state = rng.bit_generator.state
    after = [_said(a) for i in range(SAVED_AT, END) for a in _step(mon, rng, i)]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(detectors.__file__).parent).stdout.strip()  # the tree it ran on
    return {"made_by": f"tests/detectors/test_state_compat.py on {commit or 'the tree before'}",
            "state": state, "rng": rng_state, "after": after}


@pytest.fixture(scope="module")
def saved() -> dict:
    return json.loads(FIXTURE.read_text())


def test_the_saved_state_holds_every_part_in_its_old_form(saved: dict) -> None:
    state = saved["state"]
    assert isinstance(state["mv"]["rows"], str) and state["mv"]["rows"]
    assert state["commissioning"]["trend"]["points"] == state["trends"]["rms_g"]["points"] != ""
    tracks = state["scalars"]["tracks"]
    assert "trend_times" not in state["scalars"] and all("points" in t["trend"] for t in tracks.values())
    assert all(isinstance(t["recent"], list) for t in tracks.values()) and tracks["flow_m3h"]["trend"]["points"]
    channels = state["scalars"]["anomaly"]["channels"]
    assert all("table" in c and "blocks" in c for c in channels.values())
    assert channels["pressure_bar"]["period"] == 20 and channels["pressure_bar"]["phase"]["blocks"]


def test_a_state_saved_before_loads_and_the_unit_concludes_as_that_version_did(saved: dict) -> None:
    mon = UnitMonitor.from_state(json.loads(json.dumps(saved["state"])), MACHINE)
    assert not mon.baseline.ready and mon.n_learnt == SAVED_AT
    again = UnitMonitor.from_state(json.loads(json.dumps(mon.state_dict())), MACHINE)  # saved anew, restored
    rngs = [np.random.default_rng(), np.random.default_rng()]
    for rng in rngs:
        rng.bit_generator.state = saved["rng"]
    runs = [[a for i in range(SAVED_AT, END) for a in _step(m, rng, i)] for m, rng in zip((mon, again), rngs)]
    assert [a.__dict__ for a in runs[0]] == [a.__dict__ for a in runs[1]]  # the new format goes on exactly as the old
    got, want = [_said(a) for a in runs[0]], saved["after"]
    assert len(got) == len(want)
    for g, w in zip(got, want):  # (float for float on the machine that wrote the file)
        assert g[:2] == w[:2] and (g[2] is None if w[2] is None else g[2] == pytest.approx(w[2], rel=1e-9))
    states = {w[0] for w in want}
    assert {"healthy", "warning"} <= states  # the fault and the rise were judged, not only the healthy minutes
    assert any(w[2] is not None for w in want)


if __name__ == "__main__":
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps(_run()) + "\n")
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)", file=sys.stderr)
