"""Faults that begin while units commission: the soak's fleet, simulated to files and scored.

``bench/fleet_soak.py`` runs 300 pumps (P-1800, telemetry every 60 s, a snapshot every 10 min, 15 %
develop a fault with onset 0-4 h and 3-8 h to failure) through the real service for ~15 simulated
hours; 8 units that failed stayed ``healthy``. This runs the same fleet (``fleet_toml`` of
``bench/fleet_soak.py``, seed 11, 15 h) through ``foreshock simulate --out`` and ``foreshock
evaluate`` — the user's commands, no broker — and reports per failed unit: onset, failure, the
commissioning (when its ``warmup``-th running snapshot came, and the stops within it: no snapshot is
sent while a machine is stopped), the first warning and its lead, the name; and the totals (failed
units never warned, median lead, false warnings on healthy units, diagnosis accuracy).

    .venv/bin/python bench/commissioning_fleet.py [--units 300] [--hours 15] [--seed 11]

Appends to ``bench/results/commissioning_fleet.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
RESULTS = ROOT / "bench" / "results" / "commissioning_fleet.json"
WARMUP = 30  # MonitorConfig's default

from fleet_soak import fleet_toml  # noqa: E402 - the soak's fleet, one definition


def commissioning(folder: Path, unit: str, interval_s: float) -> tuple[float | None, float]:
    """(time of the WARMUP-th snapshot or None, hours stopped before it or before the last snapshot)."""
    with np.load(folder / f"{unit}.npz") as z:
        t = np.asarray(z["t"], dtype=float)
    end = t[WARMUP - 1] if t.size >= WARMUP else None
    upto = t[: WARMUP if end is not None else t.size]
    gaps = np.diff(upto)
    return end, float(np.sum(gaps[gaps > 1.5 * interval_s] - interval_s)) / 3600


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=300)
    ap.add_argument("--hours", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    py = [sys.executable, "-m", "foreshock"]
    with tempfile.TemporaryDirectory(prefix="foreshock-commissioning-") as tmp:
        fleet, out, report = Path(tmp) / "fleet.toml", Path(tmp) / "runs", Path(tmp) / "report.json"
        fleet.write_text(fleet_toml(args.units, seed=args.seed, hours=args.hours))
        if subprocess.run([*py, "simulate", str(fleet), "--out", str(out), "--quiet",
                           "--start", "2026-11-22T00:00:00Z"], cwd=ROOT).returncode:
            sys.exit("commissioning_fleet.py: 'foreshock simulate' failed (its message is above)")
        if subprocess.run([*py, "evaluate", str(out), "--json", str(report), "--quiet", "--jobs", "2"],
                          cwd=ROOT, stdout=subprocess.DEVNULL).returncode:
            sys.exit("commissioning_fleet.py: 'foreshock evaluate' failed (its message is above)")
        doc = json.loads(report.read_text())
        rows = []
        for r in doc["runs"]:
            if r.get("failure_t") is None:
                continue
            side = json.loads((out / f"{r['name']}.json").read_text())
            end, stopped_h = commissioning(out, r["name"], float(side["interval_s"]))
            rows.append({"unit": r["name"], "fault": r["true_fault"], "onset_h": round(r["onset_t"] / 3600, 2),
                         "failure_h": round(r["failure_t"] / 3600, 2),
                         "commissioned_h": None if end is None else round(end / 3600, 2),
                         "stopped_in_commissioning_h": round(stopped_h, 2),
                         "first_warning_h": None if r["first_warning_t"] is None else round(r["first_warning_t"] / 3600, 2),
                         "lead_h": None if r["lead_time_s"] is None else round(r["lead_time_s"] / 3600, 2),
                         "named": r["diagnosed_fault"]})
    leads = [x["lead_h"] for x in rows if x["lead_h"] is not None]
    fleet_doc = next(iter(doc["fleet"].values()))
    record = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f".venv/bin/python bench/commissioning_fleet.py --units {args.units} --hours {args.hours:g} "
                   f"--seed {args.seed}",
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version()},
        "failed": len(rows), "never_warned": [x["unit"] for x in rows if x["lead_h"] is None],
        "warned_before_commissioned": sum(1 for x in rows if x["first_warning_h"] is not None and (
            x["commissioned_h"] is None or x["first_warning_h"] < x["commissioned_h"])),
        "median_lead_h": round(statistics.median(leads), 2) if leads else None,
        "min_lead_h": min(leads) if leads else None,
        "false_warnings": fleet_doc["false_warnings"], "healthy_unit_days": fleet_doc["healthy_unit_days"],
        "diagnosis_accuracy": fleet_doc["diagnosis_accuracy"], "units": rows,
    }
    print(f"{'unit':8} {'fault':13} {'onset':>6} {'fails':>6} {'commis.':>7} {'stopped':>7} {'warned':>6} {'lead':>5}  named")
    for x in rows:
        print(f"{x['unit']:8} {x['fault']:13} {x['onset_h']:6.2f} {x['failure_h']:6.2f} "
              f"{'-' if x['commissioned_h'] is None else x['commissioned_h']:>7} {x['stopped_in_commissioning_h']:7.2f} "
              f"{'-' if x['first_warning_h'] is None else x['first_warning_h']:>6} "
              f"{'-' if x['lead_h'] is None else x['lead_h']:>5}  {x['named']}")
    print(f"failed {record['failed']}, never warned {len(record['never_warned'])} {record['never_warned']}; "
          f"warned while still commissioning {record['warned_before_commissioned']}; median lead "
          f"{record['median_lead_h']} h (least {record['min_lead_h']} h); false warnings {record['false_warnings']} in "
          f"{record['healthy_unit_days']} healthy unit-days; diagnosis accuracy {record['diagnosis_accuracy']}")
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps(old + [record], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
