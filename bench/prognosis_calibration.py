"""How well calibrated are the engine's time-to-failure ranges? Simulated runs to failure with ground truth.

For every fault kind that brings the vibration to the alarm limit (the bearing faults, imbalance,
misalignment, looseness; lubrication loss fails on temperature, not vibration) and several seeds, a
one-unit fleet is simulated (onset, time to failure and growth drawn per seed) and its snapshots are
fed to :class:`detectors.UnitMonitor` in sending order. For every snapshot assessment from the first
warning until the failure we keep the estimate ``ttf_s``, the range ``[ttf_low_s, ttf_high_s]`` and
the actual time left (the ground truth's ``failure_ms`` minus the snapshot's time). Reported, by
fraction of life (time since onset / onset-to-failure) and per fault kind:

- ``n``: snapshots after the first warning; ``with_estimate``: share of them carrying an estimate;
- ``coverage``: share of the estimates whose range contains the actual time left (nominal 90 %);
- ``median_rel_error``: median of (estimate - actual) / actual (negative: pessimistic, too early);
- ``median_abs_rel_error``: median of |estimate - actual| / actual;
- ``median_width_rel``: median of (high - low) / actual, how useful the range is.

"actual" is measured two ways: to the ground truth's failure (``to_failure``, the default blocks)
and to the engine's first ``alarm`` assessment (``to_alarm``), the limit the engine estimates;
the simulator's velocity reaches that limit (ISO zone D) shortly before ``failure_ms``.

With ``--femto DIR`` the FEMTO runs (``*.npz`` runs with a failure event) are fed the same way and
reported beside (fraction of life = time / failure time), with the relative error of the estimate at
the last snapshot before the failure (PHM 2012 style, ``Er = 100 (actual - estimate) / actual``).

Appends one record to ``bench/results/prognosis_calibration.json``. Run from the repository root::

    .venv/bin/python bench/prognosis_calibration.py --seeds 4 --label after [--femto ../shared/datasets/femto]
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors import MonitorConfig, Snapshot, UnitMonitor
from provenance import git_commit
from simulator.fleet import load_fleet, parse_duration
from simulator.models import FleetError
from simulator.stream import FleetStream
from tests.detectors.fleetsim import START_MS, machine_of

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = {"outer_race": "P-1800", "inner_race": "P-1800", "ball": "F-3000", "imbalance": "F-3000",
         "misalignment": "G-300", "looseness": "G-300"}
BINS = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 0.95), (0.95, 1.0))
_WARN = ("warning", "alarm")


def fleet_doc(kind: str, model: str, seed: int, interval: str = "10m", onset_h_range: tuple[float, float] = (3, 8),
              ttf_h_range: tuple[float, float] = (20, 40)) -> tuple[dict[str, Any], float, float]:
    """A one-unit fleet with ``kind``; onset, time to failure (hours, drawn in the ranges) and growth
    drawn from ``seed``; a snapshot every ``interval``."""
    rng = np.random.default_rng([seed, 97])
    onset_h = float(rng.uniform(*onset_h_range))
    ttf_h = float(rng.uniform(*ttf_h_range))
    growth = float(rng.uniform(1.5, 3.5))
    doc = {"seed": seed, "duration": f"{math.ceil(onset_h + ttf_h + 1)}h", "telemetry_interval": interval, "snapshot_interval": interval,
           "units": [{"id": "U-1", "model": model,
                      "fault": {"kind": kind, "onset": f"{onset_h * 3600:.0f}s", "ttf": f"{ttf_h * 3600:.0f}s",
                                "growth": round(growth, 2)}}]}
    return doc, onset_h * 3600, (onset_h + ttf_h) * 3600


def simulated_points(kind: str, model: str, seed: int, interval: str = "10m",
                     config: dict[str, Any] | None = None, onset_h_range: tuple[float, float] = (3, 8),
                     ttf_h_range: tuple[float, float] = (20, 40)) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    doc, onset_s, fail_s = fleet_doc(kind, model, seed, interval, onset_h_range, ttf_h_range)
    fleet = load_fleet(doc)
    unit = fleet.units[0]
    onset_s, fail_s = unit.fault.onset_ms / 1000, unit.fault.failure_ms / 1000  # as the simulator rounded them
    mon = UnitMonitor(machine_of(unit.model), **(config or {}))
    t0 = START_MS / 1000
    warned = False
    pts: list[dict[str, Any]] = []
    for e in FleetStream(fleet, START_MS).emissions(START_MS + int(fleet.duration_s * 1000)):
        if e.kind == "telemetry":
            continue
        t = e.ts_ms / 1000 - t0
        a = mon.update_snapshot(Snapshot(ts=e.ts_ms / 1000, fs=unit.model.sensor.fs, samples=e.samples, rpm=e.rpm))
        warned = warned or a.state in _WARN
        if warned and t < fail_s:
            pts.append(_point(a, t, fail_s, (t - onset_s) / (fail_s - onset_s)))
    first = pts[0]["t"] if pts else None
    alarm_s = _to_alarm(pts, fail_s)
    at_first = None
    if pts:  # what the first ticket says: the estimate at the first warning, against the time to the alarm
        p = pts[0]
        at_first = {"estimate_s": p["est"], "low_s": p["lo"], "high_s": p["hi"], "to_alarm_s": round(p["to_alarm"], 1),
                    "ratio": None if p["est"] is None or p["to_alarm"] <= 0 else round(p["est"] / p["to_alarm"], 3)}
    return pts, {"kind": kind, "model": model, "seed": seed, "onset_h": round(onset_s / 3600, 2),
                 "failure_h": round(fail_s / 3600, 2), "growth": unit.fault.growth,
                 "first_warning_h": None if first is None else round(first / 3600, 2),
                 "alarm_h": round(alarm_s / 3600, 2), "at_first_warning": at_first}


def _point(a: Any, t: float, fail_s: float, life: float) -> dict[str, Any]:
    return {"t": t, "actual": fail_s - t, "life": life, "est": a.ttf_s, "lo": a.ttf_low_s, "hi": a.ttf_high_s,
            "alarm": a.state == "alarm"}


def _to_alarm(pts: list[dict[str, Any]], fail_s: float) -> float:
    """The engine's estimand is the time to its alarm limit (ISO zone D, or the RMS at ``alarm_ratio``
    × its reference), which the simulator's velocity crosses shortly before ``failure_ms`` (1.15 × the
    C/D boundary). Adds ``to_alarm`` (time left until the first alarm assessment, or until the
    failure when none came first) to each point; returns the alarm time."""
    alarm_s = next((p["t"] for p in pts if p["alarm"]), fail_s)
    for p in pts:
        p["to_alarm"] = alarm_s - p["t"]
    return alarm_s


def femto_points(path: Path, config: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    from evaluation.runs import machine_of as run_machine
    from evaluation.runs import phm2012_score
    from foreshock.datasets import read_run

    run = read_run(path)
    if run.failure_t is None:
        return None
    mon = UnitMonitor(run_machine(run.meta, run.rpm), **(config or {}))
    warned = False
    pts: list[dict[str, Any]] = []
    last = None
    for i, t in enumerate(run.t):
        t = float(t)
        a = mon.update_snapshot(Snapshot(ts=t, fs=run.fs, samples=run.x[i], rpm=run.rpm or None))
        warned = warned or a.state in _WARN
        if warned and t < run.failure_t:
            pts.append(_point(a, t, run.failure_t, t / run.failure_t))
            last = pts[-1]
    _to_alarm(pts, run.failure_t)
    end = None
    if last is not None:
        est = last["est"]
        end = {"actual_s": round(last["actual"], 1), "estimate_s": None if est is None else round(est, 1),
               "er_percent": None if est is None else round(100 * (last["actual"] - est) / last["actual"], 1),
               "phm2012_score": 0.0 if est is None else round(phm2012_score(last["actual"], est), 4)}
    return pts, {"run": run.name, "failure_s": run.failure_t, "first_warning_s": pts[0]["t"] if pts else None,
                 "at_last_snapshot": end}


def summarise(pts: list[dict[str, Any]], truth: str = "actual") -> dict[str, Any]:
    pts = [p | {"actual": p[truth]} for p in pts if p[truth] > 0]
    est = [p for p in pts if p["est"] is not None]
    out: dict[str, Any] = {"n": len(pts), "with_estimate": round(len(est) / len(pts), 3) if pts else None}
    if not est:
        return out
    actual = np.array([p["actual"] for p in est])
    e = np.array([p["est"] for p in est])
    lo = np.array([p["lo"] for p in est])
    hi = np.array([p["hi"] for p in est])
    out.update({
        "coverage": round(float(np.mean((lo <= actual) & (actual <= hi))), 3),
        "below_range": round(float(np.mean(actual < lo)), 3),
        "above_range": round(float(np.mean(actual > hi)), 3),
        "median_rel_error": round(float(np.median((e - actual) / actual)), 3),
        "median_abs_rel_error": round(float(np.median(np.abs(e - actual) / actual)), 3),
        "median_width_rel": round(float(np.median(np.minimum(hi - lo, 1e9) / actual)), 3),
    })
    return out


def at_first_warnings(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The estimates the first tickets carry: per run, the estimate at its first warning against the time
    left to the engine's alarm (``ratio`` = estimate / actual: above 1 too late, the dangerous side)."""
    firsts = [r["at_first_warning"] for r in runs if r.get("at_first_warning")]
    est = [f for f in firsts if f["ratio"] is not None]
    out: dict[str, Any] = {"runs": len(firsts), "with_estimate": len(est)}
    if est:
        ratios = np.array([f["ratio"] for f in est])
        out.update({"median_ratio": round(float(np.median(ratios)), 3),
                    "within_half_to_double": round(float(np.mean((ratios >= 0.5) & (ratios <= 2.0))), 3),
                    "late_over_double": round(float(np.mean(ratios > 2.0)), 3),
                    "coverage": round(float(np.mean([f["low_s"] <= f["to_alarm_s"] <= f["high_s"] for f in est])), 3)})
    return out


def by_life(pts: list[dict[str, Any]], truth: str = "actual") -> dict[str, Any]:
    out = {}
    for a, b in BINS:
        sel = [p for p in pts if a <= p["life"] < b or (b == 1.0 and p["life"] >= 1.0)]
        out[f"{a:.2f}-{b:.2f}"] = summarise(sel, truth)
    return out


def use_trend_from(path: Path) -> None:
    """Make :class:`detectors.UnitMonitor` use ``ExpTrend`` from another copy of
    ``detectors/prognosis.py`` (e.g. ``git show REV:detectors/prognosis.py``): detection is
    unchanged, only the estimates and ranges are the other version's."""
    import importlib.util

    import detectors.monitor
    spec = importlib.util.spec_from_file_location("trend_from", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    trend = mod.ExpTrend
    if "floor" not in inspect.signature(trend.time_to).parameters:  # an older ExpTrend: no healthy floor

        class trend(mod.ExpTrend):  # type: ignore[no-redef]
            def time_to(self, limit: float, since: float | None = None, floor: float | None = None) -> Any:
                return super().time_to(limit, since)

    detectors.monitor.ExpTrend = trend  # type: ignore[attr-defined,misc]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4, help="seeds per fault kind (0..N-1)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="fault kinds, comma-separated")
    ap.add_argument("--femto", type=Path, default=None, help="folder of FEMTO runs (*.npz)")
    ap.add_argument("--interval", default="10m",
                    help="time between a unit's snapshots in the simulation (the simulator's duration syntax: 10m, 1m, 30s)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a detectors.MonitorConfig setting for every unit (repeatable), e.g. trend_tiers=0 "
                         "to measure the trend without its coarser tiers on the same tree")
    ap.add_argument("--onset-h", default="3,8", metavar="LO,HI",
                    help="hours from the start to the fault's onset, drawn per seed in this range (default 3,8)")
    ap.add_argument("--ttf-h", default="20,40", metavar="LO,HI",
                    help="hours from onset to failure, drawn per seed in this range (default 20,40; the validation "
                         "fleet's faults take 72,144)")
    ap.add_argument("--label", default="", help="a name for this record (e.g. before / after)")
    ap.add_argument("--out", type=Path, default=RESULTS / "prognosis_calibration.json")
    ap.add_argument("--trend-from", type=Path, default=None,
                    help="use ExpTrend from this file instead (e.g. `git show REV:detectors/prognosis.py`), "
                         "to compare methods on the same working tree: detection is unchanged, only the ranges")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        ap.error(f"--seeds must be at least 1, got {args.seeds}")
    unknown = [k for k in args.kinds.split(",") if k not in KINDS]
    if unknown:
        ap.error(f"--kinds: unknown {', '.join(unknown)} (known: {', '.join(KINDS)})")
    if args.femto is not None and not any(args.femto.glob("*.npz")):
        ap.error(f"--femto {args.femto}: no FEMTO runs (*.npz) there")
    try:
        step_s = parse_duration(args.interval, "--interval")
    except FleetError as exc:
        ap.error(str(exc))
    if not 1 <= step_s <= 86400:
        ap.error(f"--interval must be between 1 s and 1 d, got {args.interval}")
    config: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            ap.error(f"--set {item!r}: expected KEY=VALUE")
        try:
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            config[key] = value
    try:
        MonitorConfig(**config)
    except (TypeError, ValueError) as exc:
        ap.error(f"--set: {exc}")
    ranges = {}
    for name, text in (("--onset-h", args.onset_h), ("--ttf-h", args.ttf_h)):
        try:
            lo, hi = (float(v) for v in text.split(","))
        except ValueError:
            ap.error(f"{name} {text!r}: expected two numbers of hours, LO,HI")
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi <= 24 * 365):
            ap.error(f"{name} {text!r}: expected 0 <= LO <= HI <= 8760 hours")
        if name == "--ttf-h" and lo <= 0:
            ap.error(f"{name} {text!r}: a fault needs some time to fail, LO above 0")
        ranges[name] = (lo, hi)
    if args.trend_from is not None and not args.trend_from.is_file():
        ap.error(f"--trend-from {args.trend_from}: no such file")
    if args.trend_from is not None:
        use_trend_from(args.trend_from)
    started = time.perf_counter()
    all_pts: list[dict[str, Any]] = []
    per_kind: dict[str, Any] = {}
    runs: list[dict[str, Any]] = []
    for kind in args.kinds.split(","):
        kind_pts: list[dict[str, Any]] = []
        for seed in range(args.seeds):
            pts, info = simulated_points(kind, KINDS[kind], seed, args.interval, config, ranges["--onset-h"],
                                         ranges["--ttf-h"])
            info.update(summarise(pts))
            info["to_alarm"] = summarise(pts, "to_alarm")
            runs.append(info)
            kind_pts += pts
            print(f"{kind:13s} seed {seed}: {json.dumps(info)}", flush=True)
        per_kind[kind] = {"to_failure": summarise(kind_pts), "to_alarm": summarise(kind_pts, "to_alarm")}
        all_pts += kind_pts
    rec: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "label": args.label, "commit": git_commit("detectors"),
        "trend_from": None if args.trend_from is None else str(args.trend_from),
        "host": platform.node(), "seeds": args.seeds, "interval": args.interval, "settings": config, "nominal": 0.9,
        "onset_h": list(ranges["--onset-h"]), "ttf_h": list(ranges["--ttf-h"]),
        "simulated": {"all": summarise(all_pts), "by_life": by_life(all_pts), "at_first_warning": at_first_warnings(runs),
                      "to_alarm": {"all": summarise(all_pts, "to_alarm"), "by_life": by_life(all_pts, "to_alarm")},
                      "by_kind": per_kind, "runs": runs},
    }
    if args.femto is not None:
        fpts: list[dict[str, Any]] = []
        fruns = []
        for path in sorted(args.femto.glob("*.npz")):
            got = femto_points(path, config)
            if got is None:
                continue
            pts, info = got
            info.update(summarise(pts))
            fruns.append(info)
            fpts += pts
            print(f"{info['run']}: {json.dumps(info)}", flush=True)
        ends = [r["at_last_snapshot"]["phm2012_score"] for r in fruns if r["at_last_snapshot"]]
        rec["femto"] = {"all": summarise(fpts), "by_life": by_life(fpts), "runs": fruns,
                        "mean_phm2012_score_at_last_snapshot": round(float(np.mean(ends)), 4) if ends else None,
                        "to_alarm": {"all": summarise(fpts, "to_alarm"), "by_life": by_life(fpts, "to_alarm")}}
    rec["wall_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    hist = json.loads(args.out.read_text()) if args.out.exists() else []
    hist.append(rec)
    args.out.write_text(json.dumps(hist, indent=2) + "\n")
    print(json.dumps({k: rec[k] for k in ("label", "commit")} | {"all": rec["simulated"]["all"],
                     "by_life": rec["simulated"]["by_life"], "to_alarm": rec["simulated"]["to_alarm"],
                     "at_first_warning": rec["simulated"]["at_first_warning"],
                     "femto": {k: v for k, v in rec.get("femto", {}).items() if k != "runs"}}))
    return rec


if __name__ == "__main__":
    main()
