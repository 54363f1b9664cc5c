"""Cost of the detectors on long snapshots (8,192-65,536 samples), on an idle and on a busy machine.

Industrial sensors often send 0.3-1.3 s at 25.6-51.2 kHz. ``np.dot`` spreads vectors longer than
~10,000 elements over OpenBLAS threads; when every core is busy (the service, or ``evaluate``'s
worker processes, one per core) each such call waits for those threads to be scheduled.
:func:`detectors.robust.dot` keeps long vectors off BLAS. This measures
:meth:`UnitMonitor.update_snapshot` per snapshot with it and, as the baseline in the same run,
with ``np.dot`` put back (what the engine did before), each idle and with one busy process per
core beside it (best of 3, in alternating order). Up to 8,192 samples both are the same code
(``np.dot``): their difference there is the measurement's noise. Appends to ``bench/results/long_snapshots.json``.

    .venv/bin/python bench/long_snapshots.py [--snapshots 40]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import detectors.features as features_mod
import detectors.robust as robust_mod
import detectors.sensor as sensor_mod
import detectors.spectrum as spectrum_mod
from detectors import BearingGeometry, MachineInfo, Snapshot, UnitMonitor

RESULTS = Path(__file__).resolve().parent / "results" / "long_snapshots.json"
SIZES = ((2560, 25600.0), (8192, 25600.0), (16384, 51200.0), (65536, 51200.0))
MACHINE = MachineInfo(rated_rpm=1800.0, bearing=BearingGeometry(9, 7.94, 39.04))
_USERS = (features_mod, sensor_mod, spectrum_mod)  # the modules that imported ``dot``


def _busy(stop: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    a = np.random.default_rng(0).normal(size=4096)
    while not stop.is_set():
        for _ in range(2000):
            a = np.sin(a)


def _np_dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def per_snapshot_ms(n: int, fs: float, count: int) -> float:
    rng = np.random.default_rng(n)
    t = np.arange(n) / fs
    snaps = [Snapshot(ts=60.0 * i, fs=fs, samples=rng.normal(0, 0.1, n) + 0.05 * np.sin(2 * np.pi * 30 * t), rpm=1800)
             for i in range(12 + count)]
    mon = UnitMonitor(MACHINE, warmup=10)
    for s in snaps[:12]:
        mon.update_snapshot(s)
    t0 = time.perf_counter()
    for s in snaps[12:]:
        mon.update_snapshot(s)
    return (time.perf_counter() - t0) / count * 1e3


def measure(count: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    variants = (("np.dot (before)", _np_dot), ("detectors.robust.dot", robust_mod.dot))
    for n, fs in SIZES:
        best = {name: float("inf") for name, _ in variants}
        for rep in range(3):  # alternate the order, keep the best of each: no warm-up favours either
            for name, fn in variants[::1 if rep % 2 == 0 else -1]:
                for mod in _USERS:
                    mod.dot = fn  # type: ignore[attr-defined]
                best[name] = min(best[name], per_snapshot_ms(n, fs, count))
        for mod in _USERS:
            mod.dot = robust_mod.dot  # type: ignore[attr-defined]
        out[f"{n} @ {fs / 1000:g} kHz"] = {k: round(v, 3) for k, v in best.items()}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snapshots", type=int, default=40)
    args = ap.parse_args()
    if args.snapshots < 1:
        ap.error(f"--snapshots must be at least 1, got {args.snapshots}")
    idle = measure(args.snapshots)
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_busy, args=(stop,), daemon=True) for _ in range(os.cpu_count() or 1)]
    for p in hogs:
        p.start()
    try:
        busy = measure(args.snapshots)
    finally:
        stop.set()
        for p in hogs:
            p.join(5)
    result = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                          "platform": platform.platform(), "numpy": np.__version__},
              "snapshots": args.snapshots, "ms_per_snapshot": {"idle": idle, "all_cores_busy": busy}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append(result)
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")
    print("| snapshot | machine | np.dot (before) ms | detectors.robust.dot ms | ratio |\n|---|---|---:|---:|---:|")
    for label, table in (("idle", idle), ("all cores busy", busy)):
        for size, row in table.items():
            a, b = row["np.dot (before)"], row["detectors.robust.dot"]
            print(f"| {size} | {label} | {a:.2f} | {b:.2f} | {a / b:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
