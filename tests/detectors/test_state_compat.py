"""A unit's state saved by the versions before the compact state (the service's database after an
upgrade) loads, and the unit goes on exactly as it would have.

``data/state_5f3b796.json`` was written by this file run as a script on the tree before (commit
5f3b796): a unit 190 snapshots into a 200-snapshot commissioning, with scalar series sent together and
one sent alone, its scalar baselines learnt, one series with a cycle; every part whose saved form
has changed since is there in its old form (the T² rows, the commissioning trend's points, each
scalar trend's times, a series' last values as a list, the anomaly channels' table and blocks with
their counts). ``data/state_482bd63.json``, the same unit saved by the tree before the scalar trends'
times were saved as milliseconds (commit 482bd63), holds the forms that changed then (the scalar
trends' times as floats, the long-cycle rings each packed at 3 bits, the transitions' counts as a
list). Restored, each is compared over the next two hours (the commissioning ends, then a bearing fault
and a temperature rise develop) with a unit fed the same messages from the start.

    PYTHONPATH=<the old tree> python tests/detectors/test_state_compat.py   # writes data/state_<commit>.json
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
DATA = Path(__file__).parent / "data"
FIXTURES = ["state_5f3b796.json", "state_482bd63.json"]
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


def _fed(upto: int) -> tuple[UnitMonitor, np.random.Generator]:
    """A unit fed the first ``upto`` minutes, and the messages' generator where it stopped."""
    rng = np.random.default_rng(20)
    mon = UnitMonitor(MACHINE, **CONFIG)
    for i in range(upto):
        _step(mon, rng, i)
    return mon, rng


def _run() -> dict:
    """What the tree this runs on saves at SAVED_AT."""
    mon, _ = _fed(SAVED_AT)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(detectors.__file__).parent).stdout.strip()  # the tree it ran on
    return {"made_by": f"tests/detectors/test_state_compat.py on {commit or 'the tree before'}",
            "state": mon.state_dict()}


@pytest.fixture(scope="module")
def saved() -> dict:
    return json.loads((DATA / FIXTURES[0]).read_text())


@pytest.fixture(scope="module", params=FIXTURES)
def any_saved(request: pytest.FixtureRequest) -> dict:
    return json.loads((DATA / request.param).read_text())


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


def test_the_state_saved_before_the_times_as_milliseconds_holds_those_parts_in_their_old_form() -> None:
    saved = json.loads((DATA / FIXTURES[1]).read_text())
    assert "482bd63" in saved["made_by"]
    scalars = saved["state"]["scalars"]
    tracks, channels = scalars["tracks"], scalars["anomaly"]["channels"]
    assert isinstance(scalars["trend_times"], str) and isinstance(tracks["flow_m3h"]["trend"]["points"], str)
    assert all(isinstance(c["transitions"], list) for c in channels.values())
    assert all({"lo", "hi"} <= c["long"].keys() and c["long"]["n"] == 23 for c in channels.values())


def test_a_state_saved_before_loads_and_the_unit_goes_on_as_it_would_have(any_saved: dict) -> None:
    saved = any_saved
    restored = UnitMonitor.from_state(json.loads(json.dumps(saved["state"])), MACHINE)
    assert not restored.baseline.ready and restored.n_learnt == SAVED_AT
    again = UnitMonitor.from_state(json.loads(json.dumps(restored.state_dict())), MACHINE)  # saved anew
    fresh, rng = _fed(SAVED_AT)  # never saved
    runs = []
    for mon in (restored, again, fresh):
        gen = np.random.default_rng()
        gen.bit_generator.state = rng.bit_generator.state
        runs.append([a for i in range(SAVED_AT, END) for a in _step(mon, gen, i)])
    assert [a.__dict__ for a in runs[0]] == [a.__dict__ for a in runs[1]]  # the new format goes on exactly as the old
    assert len(runs[0]) == len(runs[2])
    for a, b in zip(runs[0], runs[2]):  # (float for float on the machine that wrote the file)
        assert (a.state, a.failure_mode, a.reasons) == (b.state, b.failure_mode, b.reasons)
        assert a.ttf_s is b.ttf_s is None or a.ttf_s == pytest.approx(b.ttf_s, rel=1e-9)
        assert a.scores == pytest.approx(b.scores, rel=1e-9, abs=1e-12)
    assert {"healthy", "warning"} <= {a.state for a in runs[0]}  # the fault and the rise were judged
    assert any(a.ttf_s is not None for a in runs[0])


if __name__ == "__main__":
    made = _run()
    path = DATA / f"state_{made['made_by'].split()[-1]}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(made) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)", file=sys.stderr)
