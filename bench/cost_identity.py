"""Every output of the monitor the same, bit for bit, in two trees: this one and another (e.g. main's).

Changes that only cut the cost of a snapshot (``bench/detectors_cost.py``) must not change a number. This
script runs the same streams through :class:`detectors.UnitMonitor` in each tree, in a child process with
that tree first on ``sys.path``, dumps every ``Assessment`` (state, failure mode, confidence, reasons,
evidence, time to failure and its range, features, scores, sensor fault) and the monitor's
``state_dict()`` (every 25 snapshots and at the end) as JSON, floats written with ``repr`` (exact), and
compares the dumps as text. A state is also saved to JSON and restored halfway through each stream, so a
state saved by one tree's code is what the other tree's code restores and continues from.

Streams: the five of ``bench/detectors_cost.py`` (healthy, failing bearing, shaft fault, commissioning,
no geometry, each after the bench's 40 commissioning snapshots where it has them), a speed change and bad
input mixed in, and the simulated fleets ``tests/detectors`` drives (``test_fusion.FLEET``, three days of
six units with scalar telemetry, and ``simulator/fleets/mixed.toml``, ``--quick`` leaves it out).

Run: ``.venv/bin/python bench/cost_identity.py --other /tmp/wt_old [--quick]``; exit status 0 when every
dump is equal, 1 (with the first differences) when not.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
STATE_EVERY = 25


def _dump_streams(tree: Path, quick: bool) -> dict[str, list[Any]]:
    """Run in the child: every stream's assessments and states, in this process' tree."""
    sys.path.insert(0, str(tree))
    sys.path.insert(0, str(tree / "bench"))
    import numpy as np

    import detectors_cost as dc
    from detectors import MachineInfo, Snapshot, UnitMonitor

    def row(a: Any) -> Any:
        return None if a is None else a.to_dict()

    def run(machine: Any, items: list[tuple[str, Any]], warm: list[Any] | None = None) -> list[Any]:
        mon = UnitMonitor(machine)
        out: list[Any] = []
        for s in warm or []:
            out.append(row(mon.update_snapshot(s)))
        half = len(items) // 2
        for i, (kind, item) in enumerate(items):
            if i == half:  # saved and restored as the service does across a restart
                mon = UnitMonitor.from_state(json.loads(json.dumps(mon.state_dict())), machine)
            if kind == "snap":
                out.append(row(mon.update_snapshot(item)))
            else:
                out.append(row(mon.update_scalars(*item)))
            if i % STATE_EVERY == 0:
                out.append({"state": mon.state_dict()})
        out.append({"state": mon.state_dict()})
        return out

    machine = MachineInfo(rated_rpm=dc.RPM, bearing=dc.GEO)
    bare = MachineInfo(rated_rpm=dc.RPM)
    warm = dc.stream(40, seed=1)
    n = 150 if quick else 400
    snaps = lambda ss: [("snap", s) for s in ss]  # noqa: E731
    out: dict[str, list[Any]] = {
        "healthy": run(machine, snaps(dc.stream(n)), warm),
        "no_geometry": run(bare, snaps(dc.stream(n)), warm),
        "failing": run(machine, snaps(dc.failing_stream(n)), warm),
        "shaft_fault": run(machine, snaps(dc.shaft_fault_stream(n)), warm),
        "commissioning": run(machine, snaps(dc.stream(30, seed=4))),
    }
    # a speed change that settles (the baseline learnt again), bad input, a sensor stuck, scalar telemetry
    mixed: list[tuple[str, Any]] = []
    rng = np.random.default_rng(11)
    fail = dc.failing_stream(120, seed=12)
    for i, s in enumerate(dc.stream(120, seed=13)):
        if 60 <= i < 75:
            s = Snapshot(ts=s.ts, fs=s.fs, samples=s.samples * 1.3, rpm=1650.0)
        if i >= 90:
            s = Snapshot(ts=s.ts, fs=s.fs, samples=fail[i].samples, rpm=s.rpm)
        mixed.append(("snap", s))
        mixed.append(("scalars", (s.ts + 60.0, {"bearing_temperature_c": 40.0 + rng.normal(0, 0.3) + (i > 100) * (i - 100) * 0.5,
                                                "current_a": 12.0 + rng.normal(0, 0.1)})))
        if i == 30:
            mixed.append(("snap", Snapshot(ts=s.ts + 1, fs=s.fs, samples=np.full(2560, 0.3), rpm=s.rpm)))
        if i == 31:
            bad = np.asarray(s.samples, dtype=np.float64).copy()
            bad[5] = np.nan
            mixed.append(("snap", Snapshot(ts=s.ts + 1, fs=s.fs, samples=bad, rpm=s.rpm)))
        if i == 80:
            mixed.append(("snap", Snapshot(ts=s.ts + 1, fs=s.fs, samples=s.samples, rpm=50.0)))
    out["mixed"] = run(machine, mixed, warm)

    from simulator.fleet import load_fleet
    from simulator.stream import FleetStream
    from tests.detectors import test_fusion
    from tests.detectors.fleetsim import START_MS, machine_of

    fleets = {"fleet_fusion": test_fusion.FLEET}
    if not quick:
        import tomllib
        fleets["fleet_mixed"] = tomllib.loads((tree / "simulator" / "fleets" / "mixed.toml").read_text())
    for name, doc in fleets.items():
        fleet = load_fleet(doc)
        monitors = {u.unit_id: UnitMonitor(machine_of(u.model)) for u in fleet.units}
        rows: dict[str, list[Any]] = {u.unit_id: [] for u in fleet.units}
        for e in FleetStream(fleet, START_MS).emissions(START_MS + int(fleet.duration_s * 1000)):
            mon, ts = monitors[e.unit.unit_id], e.ts_ms / 1000
            if e.kind == "telemetry":
                a = mon.update_scalars(ts, dict(e.values or {}))
            else:
                a = mon.update_snapshot(Snapshot(ts=ts, fs=e.unit.model.sensor.fs, samples=e.samples, rpm=e.rpm))
            rows[e.unit.unit_id].append(row(a))
        for uid, mon in monitors.items():
            rows[uid].append({"state": mon.state_dict()})
            out[f"{name}/{uid}"] = rows[uid]
    return out


def _child(tree: Path, quick: bool, dest: Path) -> None:
    t0 = time.process_time()
    dumps = _dump_streams(tree, quick)
    # one JSON text per entry (floats as repr: exact; NaN as NaN)
    dest.write_text(json.dumps({k: [json.dumps(r, sort_keys=True) for r in v] for k, v in dumps.items()}))
    print(f"{tree}: {sum(len(v) for v in dumps.values())} rows in {time.process_time() - t0:.0f} s CPU",
          file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--other", type=Path, help="the other tree (e.g. a worktree of main)")
    ap.add_argument("--quick", action="store_true", help="shorter streams, no mixed.toml fleet")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.quick, args.out)
        return 0
    if args.other is None:
        ap.error("--other is required")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        procs = []
        for tag, tree in (("this", HERE), ("other", args.other.resolve())):
            paths[tag] = Path(tmp) / f"{tag}.json"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(tree), "--out", str(paths[tag])]
            procs.append(subprocess.Popen(cmd + (["--quick"] if args.quick else []), cwd=tree))
        if any(p.wait() for p in procs):
            print("a child failed")
            return 2
        mine, theirs = (json.loads(paths[t].read_text()) for t in ("this", "other"))
    bad = 0
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key), theirs.get(key)
        if a == b:
            continue
        bad += 1
        if a is None or b is None or len(a) != len(b):
            print(f"{key}: {len(a or [])} rows here, {len(b or [])} in the other tree")
            continue
        i = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
        x, y = json.loads(a[i]), json.loads(b[i])
        print(f"{key}: {sum(x != y for x, y in zip(a, b))} of {len(a)} rows differ, the first at row {i}")
        _diff(x, y, "  ")
    rows = sum(len(v) for v in mine.values())
    print(f"{len(mine)} streams, {rows} rows (assessments and states): "
          + ("all identical" if not bad else f"{bad} streams differ"))
    return 1 if bad else 0


def _diff(x: Any, y: Any, path: str, limit: list[int] | None = None) -> None:
    limit = limit if limit is not None else [10]
    if limit[0] <= 0:
        return
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y), key=str):
            if x.get(k) != y.get(k):
                _diff(x.get(k), y.get(k), f"{path}.{k}", limit)
    elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (u, v) in enumerate(zip(x, y)):
            if u != v:
                _diff(u, v, f"{path}[{i}]", limit)
    else:
        limit[0] -= 1
        print(f"{path}: here {x!r:.200} / other {y!r:.200}")


if __name__ == "__main__":
    raise SystemExit(main())
