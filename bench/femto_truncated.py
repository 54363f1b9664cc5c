"""The PHM 2012 score the harness would report on FEMTO runs cut short, as the challenge's test set is.

The learning runs carry no ``phm2012_truncate_at_t``; this feeds each of them through
:func:`evaluation.runs.evaluate_run` with the key set to leave 2, 5, 10 and 25 % of the run's life,
and reports per cut the engine's RUL estimate, the actual RUL and the PHM 2012 score (mean over the
six runs per cut), twice in the same run: with the engine's defaults (its time to failure counted to
its generic alarm limits, RMS at ``alarm_ratio`` x its reference or ISO zone D), and with the test's
stated stop criterion as the machine's functional-failure limit, ``failure_peak_g`` = 20 g (the
sidecars: "the test stopped when vibration exceeded 20 g"; ``--failure-peak-g``). Baseline in the same run, a population prior that knows only what the engine
knows at the cut (the time run so far, ``T``) and the lifetimes ``L`` of the *other* runs
(leave-one-out): the median residual life ``L - T`` of those that lasted longer than ``T`` (the
shortest other life's residual, 0 if none did).
Appends to ``bench/results/femto_truncated.json``.

    .venv/bin/python bench/femto_truncated.py [--data ../shared/datasets/femto] [--failure-peak-g 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import UTC, datetime
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.config import MonitorConfig
from evaluation.runs import evaluate_run, phm2012_score
from foreshock.datasets import read

CUTS = (0.02, 0.05, 0.10, 0.25)  # share of the life left at the cut
RESULTS = Path(__file__).resolve().parent / "results" / "femto_truncated.json"


def _one(job: tuple[str, float, dict]) -> dict:
    path, left, config = job
    run = read(path)
    run.meta["phm2012_truncate_at_t"] = float(run.failure_t * (1 - left))
    r = evaluate_run(run, config=config)
    return {"run": run.name, "left": left, "config": config, "life_s": float(run.failure_t), "cut_s": float(run.failure_t * (1 - left)),
            "actual_rul_s": r["actual_rul_s"], "rul_estimate_s": r["rul_estimate_s"],
            "phm2012_score": r["phm2012_score"], "state_at_cut": r["final_state"]}


def _prior(row: dict, others: list[dict]) -> float:
    """Median residual life, after the time run so far, of the other runs that lasted longer."""
    t = row["cut_s"]
    longer = [o["life_s"] - t for o in others if o["life_s"] > t]
    return statistics.median(longer) if longer else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "femto"))
    ap.add_argument("--failure-peak-g", type=float, default=20.0,
                    help="the functional-failure limit of the second pass (default 20: the test's stop criterion)")
    args = ap.parse_args()
    paths = sorted(str(p) for p in Path(args.data).glob("*.npz"))
    if not paths:
        sys.exit(f"no FEMTO runs (*.npz) in {args.data}")
    limit = {"failure_peak_g": args.failure_peak_g}
    try:
        MonitorConfig.from_overrides(limit)  # refused here, before anything is measured or recorded
    except ValueError as exc:
        ap.error(f"--failure-peak-g: {exc}")
    label = f"failure_peak_g={args.failure_peak_g:g}"
    with Pool(2) as pool:
        rows = pool.map(_one, [(p, c, cfg) for cfg in ({}, limit) for p in paths for c in CUTS])
    summary = {}
    for c in CUTS:
        at = [r for r in rows if r["left"] == c and not r["config"]]
        limited = [r for r in rows if r["left"] == c and r["config"]]
        base = [phm2012_score(r["actual_rul_s"], _prior(r, [o for o in at if o["run"] != r["run"]])) for r in at]
        summary[f"{c:.2f}"] = {"engine": round(statistics.mean(r["phm2012_score"] for r in at), 3),
                               "with_estimate": sum(r["rul_estimate_s"] is not None for r in at),
                               label: {"engine": round(statistics.mean(r["phm2012_score"] for r in limited), 3),
                                       "with_estimate": sum(r["rul_estimate_s"] is not None for r in limited)},
                               "baseline_population_prior": round(statistics.mean(base), 3)}
    print(f"| life left at the cut | engine's mean PHM 2012 score: defaults | {label} | runs with an estimate: defaults | "
          f"{label} | baseline: population prior (residual life of the other runs) |")
    print("|---|---:|---:|---:|---:|---:|")
    for c, s in summary.items():
        print(f"| {float(c):.0%} | {s['engine']} | {s[label]['engine']} | {s['with_estimate']} of {len(paths)} | "
              f"{s[label]['with_estimate']} of {len(paths)} | {s['baseline_population_prior']} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append({"when": datetime.now(UTC).isoformat(timespec="seconds"),
                    "command": f".venv/bin/python bench/femto_truncated.py --failure-peak-g {args.failure_peak_g:g}",
                    "summary": summary, "rows": rows})
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
