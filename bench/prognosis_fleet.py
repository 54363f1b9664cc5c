"""The time to failure on a simulated fleet: the estimate each failed unit's first warning carries,
and how its ranges hold the time actually left from then on.

``bench/prognosis_calibration.py`` simulates one unit per fault kind and seed; a fleet file
(``simulator/fleets/validation.toml`` by default) has the catalogue's models with their spread
between units, their operating changes and the fleet's own pace (faults over 3-6 days, a snapshot
every 30 minutes). The fleet is simulated with ``foreshock simulate --out`` (or read from a folder it
wrote, ``--runs``), and each unit that fails is fed to :class:`detectors.UnitMonitor` in sending
order, as ``foreshock evaluate`` feeds it. From its first warning until its first alarm (the limit
the engine estimates; the failure when no alarm comes first) every snapshot's estimate ``ttf_s`` and
range are compared with the time left:

- ``at_first_warning``: per unit the estimate at its first warning over the time left (``ratio``,
  above 1 too late, the dangerous side), the median, the share within half to double, and the share
  whose range held the time left (``coverage``; nominal 90 %);
- ``after_first_warning``: the same over every warned snapshot (``summarise`` of
  ``bench/prognosis_calibration.py``: coverage, median error and absolute error relative to the time
  left, median width).

``--trend-from FILE`` measures another version of ``detectors/prognosis.py`` on the same tree
(detection is unchanged, only the estimates and ranges). Appends one record to
``bench/results/prognosis_fleet.json``::

    .venv/bin/python bench/prognosis_fleet.py [--fleet simulator/fleets/generalisation.toml] [--label after]
    git show HEAD~1:detectors/prognosis.py > /tmp/old.py
    .venv/bin/python bench/prognosis_fleet.py --runs /tmp/runs --trend-from /tmp/old.py --label before
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from multiprocessing import Pool
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from prognosis_calibration import _point, summarise, use_trend_from  # noqa: E402
from provenance import git_commit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEFAULT_FLEET = ROOT / "simulator" / "fleets" / "validation.toml"


def unit_points(path: Path) -> dict[str, Any] | None:
    """Feed one simulated unit's run; its warned snapshots with the time left to its alarm, or None
    for a unit that does not fail."""
    from detectors import Snapshot, UnitMonitor
    from evaluation.runs import machine_of
    from foreshock.datasets import read_run

    run = read_run(path)
    if run.failure_t is None:
        return None
    onset = next((e for e in run.events if e.get("kind") == "onset"), {})
    mon = UnitMonitor(machine_of(run.meta, run.rpm))
    pts: list[dict[str, Any]] = []
    warned = False
    alarm_t = None
    for i, t in enumerate(run.t):
        t = float(t)
        if i and t <= float(run.t[i - 1]):
            continue  # sent twice: fed once, as evaluate does
        a = mon.update_snapshot(Snapshot(ts=t, fs=run.fs, samples=run.x[i], rpm=run.rpm or None))
        if a.state == "alarm":
            alarm_t = t
            break
        warned = warned or a.state == "warning"
        if warned and t < run.failure_t:
            pts.append(_point(a, t, run.failure_t, 0.0))
    end = alarm_t if alarm_t is not None else run.failure_t
    for p in pts:
        p["to_alarm"] = end - p["t"]
    first = pts[0] if pts else None
    at_first = None
    if first is not None and first["to_alarm"] > 0:
        at_first = {"estimate_s": first["est"], "low_s": first["lo"], "high_s": first["hi"],
                    "to_alarm_s": round(first["to_alarm"], 1),
                    "ratio": None if first["est"] is None else round(first["est"] / first["to_alarm"], 3)}
    return {"unit": run.name, "fault": onset.get("mode") or run.failure_mode, "alarm_s": alarm_t,
            "failure_s": run.failure_t, "first_warning_s": None if first is None else first["t"],
            "at_first_warning": at_first, "points": pts}


def first_warnings(units: list[dict[str, Any]]) -> dict[str, Any]:
    firsts = [u["at_first_warning"] for u in units if u["at_first_warning"]]
    est = [f for f in firsts if f["ratio"] is not None]
    out: dict[str, Any] = {"units": len(firsts), "with_estimate": len(est)}
    if est:
        ratios = sorted(f["ratio"] for f in est)
        n = len(ratios)
        out.update({"median_ratio": round(ratios[n // 2] if n % 2 else (ratios[n // 2 - 1] + ratios[n // 2]) / 2, 3),
                    "within_half_to_double": round(sum(0.5 <= r <= 2.0 for r in ratios) / n, 3),
                    "late_over_double": round(sum(r > 2.0 for r in ratios) / n, 3),
                    "coverage": round(sum(f["low_s"] <= f["to_alarm_s"] <= f["high_s"] for f in est) / n, 3)})
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fleet", type=Path, default=DEFAULT_FLEET,
                    help="fleet file to simulate (with --runs: the file the folder was simulated from, for the record)")
    ap.add_argument("--runs", type=Path, default=None,
                    help="a folder `foreshock simulate --out` wrote (the fleet is then not simulated again)")
    ap.add_argument("--trend-from", type=Path, default=None,
                    help="use ExpTrend from this file instead (e.g. `git show REV:detectors/prognosis.py`)")
    ap.add_argument("--label", default="", help="a name for this record (e.g. before / after)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="units fed in parallel")
    ap.add_argument("--out", type=Path, default=RESULTS / "prognosis_fleet.json")
    args = ap.parse_args(argv)
    if args.runs is None and not args.fleet.is_file():
        ap.error(f"--fleet {args.fleet}: no such file")
    if args.runs is not None and not any(args.runs.glob("*.npz")):
        ap.error(f"--runs {args.runs}: no simulated runs (*.npz) there")
    if args.trend_from is not None and not args.trend_from.is_file():
        ap.error(f"--trend-from {args.trend_from}: no such file")
    if args.jobs < 1:
        ap.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.trend_from is not None:
        use_trend_from(args.trend_from)  # before the workers fork: they inherit it
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="foreshock-prognosis-fleet-") as tmp:
        folder = args.runs
        if folder is None:
            folder = Path(tmp) / "runs"
            sim = [sys.executable, "-m", "foreshock", "simulate", str(args.fleet), "--out", str(folder), "--quiet"]
            if subprocess.run(sim, cwd=ROOT).returncode:
                sys.exit("prognosis_fleet.py: 'foreshock simulate' failed (its message is above); nothing recorded")
        paths = sorted(folder.glob("*.npz"))
        with Pool(args.jobs) as pool:
            units = [u for u in pool.map(unit_points, paths) if u is not None]
    pts = [p for u in units for p in u["points"]]
    per_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for u in units:
        per_kind[u["fault"]].append(u)
    rec: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "label": args.label,
        "commit": git_commit("detectors"), "trend_from": None if args.trend_from is None else str(args.trend_from),
        "host": platform.node(), "fleet": args.fleet.name, "runs": None if args.runs is None else str(args.runs),
        "failed_units": len(units),
        "at_first_warning": first_warnings(units),
        "after_first_warning": summarise(pts, "to_alarm"),
        "by_kind": {k: {"at_first_warning": first_warnings(v),
                        "after_first_warning": summarise([p for u in v for p in u["points"]], "to_alarm"),
                        "ratios_at_first_warning": [u["at_first_warning"]["ratio"] for u in v if u["at_first_warning"]]}
                    for k, v in sorted(per_kind.items())},
        "units": [{k: v for k, v in u.items() if k != "points"} for u in units],
        "wall_s": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    hist = json.loads(args.out.read_text()) if args.out.exists() else []
    hist.append(rec)
    args.out.write_text(json.dumps(hist, indent=2) + "\n")
    print(json.dumps({k: rec[k] for k in ("label", "commit", "fleet", "failed_units", "at_first_warning",
                                          "after_first_warning")}))
    return rec


if __name__ == "__main__":
    main()
