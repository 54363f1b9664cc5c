"""Detector quality on the simulated validation fleet, against an ISO-zone alarm alone.

Simulates ``simulator/fleets/validation.toml`` (38 units on the three catalogue models, every machine
fault kind developing over 3-6 days, healthy references, 9 simulated days) into a temporary folder
with ``foreshock simulate --out`` and scores it with ``foreshock evaluate`` — the commands a user
runs. The baseline, measured on the same files: what a plain vibration-level monitor gives, a
warning when the unit's ISO 10816 velocity (its ``velocity_mm_s`` telemetry) stays in zone C or D
(above the model's B/C boundary) for 10 consecutive minutes.

Reported per fault kind: failed units, the share warned at least 24 simulated hours before failure
and the median lead time, for Foreshock and for the baseline; false warnings per healthy unit-day;
Foreshock's diagnosis accuracy and confusions. Appends to ``bench/results/fleet_validation.json``.

    .venv/bin/python bench/fleet_validation.py [--fleet simulator/fleets/validation.toml] [--seed N]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_FLEET = ROOT / "simulator" / "fleets" / "validation.toml"
DAY_S = 86400.0
SUSTAIN = 10  # consecutive one-minute velocity values above the B/C boundary


def _foreshock() -> list[str]:
    return [sys.executable, "-m", "foreshock"]


def iso_baseline(folder: Path, unit: str, start_ms: float, limit_bc: float) -> float | None:
    """Seconds from the run's start to the first sustained zone-C velocity, or None."""
    path = folder / f"{unit}_velocity_mm_s.csv"
    if not path.exists():
        return None
    run = 0
    with path.open() as fh:
        for row in csv.DictReader(fh):
            v = float(row["value"])
            run = run + 1 if v > limit_bc else 0
            if run >= SUSTAIN:
                t = datetime.fromisoformat(row["timestamp"]).replace(tzinfo=UTC)
                return t.timestamp() - start_ms / 1000.0
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fleet", default=str(DEFAULT_FLEET),
                    help="fleet file (results go to fleet_validation.json for the default, else fleet_<name>.json)")
    ap.add_argument("--seed", type=int, help="override the fleet file's seed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="foreshock-fleet-") as tmp:
        out, report = Path(tmp) / "runs", Path(tmp) / "report.json"
        t0 = time.perf_counter()
        sim = [*_foreshock(), "simulate", args.fleet, "--out", str(out), "--quiet"]
        if args.seed is not None:
            sim += ["--seed", str(args.seed)]
        if subprocess.run(sim, cwd=ROOT).returncode:
            sys.exit("fleet_validation.py: 'foreshock simulate' failed (its message is above); nothing recorded")
        t_sim = time.perf_counter() - t0
        evaluate = [*_foreshock(), "evaluate", str(out), "--json", str(report), "--quiet", "--jobs", "2"]
        if subprocess.run(evaluate, cwd=ROOT, stdout=subprocess.DEVNULL).returncode:
            sys.exit("fleet_validation.py: 'foreshock evaluate' failed (its message is above); nothing recorded")
        t_eval = time.perf_counter() - t0 - t_sim
        doc = json.loads(report.read_text())
        fleet = next(iter(doc["fleet"].values()))
        per: dict[str, dict[str, list]] = defaultdict(lambda: {"fs": [], "iso": []})
        confusion: Counter[str] = Counter()
        iso_false = 0
        for r in doc["runs"]:
            side = json.loads((out / f"{r['name']}.json").read_text())
            limit_bc = float(side["machine"]["zone_limits_mm_s"][1])
            iso_t = iso_baseline(out, r["name"], side["start_ms"], limit_bc)
            truth = r.get("true_fault") or "none"
            onset = r.get("onset_t")
            if truth == "none" or onset is None:
                iso_false += iso_t is not None
            elif iso_t is not None and iso_t < onset:
                iso_false += 1
            if r.get("failure_t") is not None:
                fail = r["failure_t"]
                per[truth]["fs"].append(fail - r["first_warning_t"] if r.get("first_warning_t") is not None else None)
                per[truth]["iso"].append(fail - iso_t if iso_t is not None and iso_t <= fail else None)
            if truth != "none" and r.get("first_warning_t") is not None:
                confusion[f"{truth} -> {r.get('diagnosed_fault')}"] += 1
            elif truth == "none":  # a healthy unit (some with failing sensors): anything named, even at watch
                for mode, n in (r.get("modes_at_watch_or_above") or {}).items():
                    confusion[f"none ({r['name']}) -> {mode} at watch or above, assessments"] += n

    def summary(leads: list) -> dict:
        got = [x for x in leads if x is not None]
        return {"warned_24h_share": round(sum(x >= DAY_S for x in got) / len(leads), 3) if leads else None,
                "median_lead_h": round(statistics.median(got) / 3600, 1) if got else None}

    kinds = {k: {"failed": len(v["fs"]), "foreshock": summary(v["fs"]), "iso_zone_c": summary(v["iso"])}
             for k, v in sorted(per.items())}
    all_fs = [x for v in per.values() for x in v["fs"]]
    all_iso = [x for v in per.values() for x in v["iso"]]
    record = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ".venv/bin/python bench/fleet_validation.py" + (f" --seed {args.seed}" if args.seed is not None else "")
                   + ("" if Path(args.fleet).resolve() == DEFAULT_FLEET else f" --fleet {args.fleet}"),
        "machine": {"nproc": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version()},
        "fleet": Path(args.fleet).name, "units": fleet["units"],
        "healthy_unit_days": fleet["healthy_unit_days"],
        "simulate_s": round(t_sim, 1), "evaluate_s": round(t_eval, 1),
        "per_fault": kinds,
        "all_faults": {"failed": len(all_fs), "foreshock": summary(all_fs), "iso_zone_c": summary(all_iso)},
        "false_warnings_per_unit_day": {"foreshock": fleet["false_warnings_per_unit_day"],
                                        "iso_zone_c": round(iso_false / fleet["healthy_unit_days"], 4)},
        "diagnosis_accuracy": fleet["diagnosis_accuracy"],
        "confusions": dict(sorted(confusion.items())),
    }
    results = RESULTS_DIR / ("fleet_validation.json" if Path(args.fleet).resolve() == DEFAULT_FLEET
                             else f"fleet_{Path(args.fleet).stem}.json")
    history = json.loads(results.read_text()) if results.exists() else []
    history.append(record)
    results.write_text(json.dumps(history, indent=1) + "\n")
    print("| fault | failed | Foreshock warned >= 24 h | median lead | ISO zone C alone >= 24 h | median lead |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, v in [*kinds.items(), ("all", record["all_faults"])]:
        f, i = v["foreshock"], v["iso_zone_c"]
        print(f"| {k} | {v['failed']} | {f['warned_24h_share']} | {f['median_lead_h']} h | "
              f"{i['warned_24h_share']} | {i['median_lead_h']} h |")
    print(f"\nfalse warnings per healthy unit-day: Foreshock {record['false_warnings_per_unit_day']['foreshock']}, "
          f"ISO zone C {record['false_warnings_per_unit_day']['iso_zone_c']} ({record['healthy_unit_days']} unit-days)")
    print(f"diagnosis accuracy {record['diagnosis_accuracy']}; confusions {record['confusions']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
