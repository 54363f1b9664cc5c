"""The full evaluation (all of NAB, CWRU, FEMTO, IMS test 2) with baselines measured in the same run.

- **NAB quality**: :class:`detectors.scalar.ScalarAnomaly` against NAB's own simplest baseline, a
  windowed Gaussian (tail probability of each value under the mean and SD of the last 6,400 values,
  as ``nab/detectors/gaussian``), both scored by :mod:`evaluation.nab` on the whole corpus.
- **Speed**: the wall time of ``foreshock evaluate`` over everything (``--jobs``) against the time it
  takes only to read every dataset, the floor of any evaluation.

Appends the numbers to ``bench/results/evaluate_all.json``, prints a markdown table and writes the
full report to ``bench/results/evaluate_all_report.json``. Run from the repository root:
``.venv/bin/python bench/evaluate_all.py [--data ../shared/datasets] [--jobs 2]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections import deque
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.discover import discover  # noqa: E402
from evaluation.harness import evaluate  # noqa: E402
from evaluation.nab import Series as Scored  # noqa: E402
from evaluation.nab import score_corpus  # noqa: E402
from evaluation.nab_corpus import label_windows, stream_scores  # noqa: E402
from evaluation.report import render  # noqa: E402
from foreshock.datasets import read  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


class WindowedGaussian:
    """NAB's windowed Gaussian baseline: score = 1 - tail probability under the last ``window`` values."""

    def __init__(self, window: int = 6400) -> None:
        self.buf: deque[float] = deque(maxlen=window)
        self.s = 0.0
        self.s2 = 0.0

    def score_one(self, x: dict[str, float]) -> float:
        n = len(self.buf)
        if n < 2:
            return 0.0
        mean = self.s / n
        std = math.sqrt(max(self.s2 / n - mean * mean, 0.0)) or 1e-9
        z = abs(x["value"] - mean) / std
        return 1.0 - math.erfc(z / math.sqrt(2.0))  # 1 - two-sided tail

    def learn_one(self, x: dict[str, float]) -> None:
        v = x["value"]
        if len(self.buf) == self.buf.maxlen:
            old = self.buf[0]
            self.s -= old
            self.s2 -= old * old
        self.buf.append(v)
        self.s += v
        self.s2 += v * v


def _baseline_one(path: Path) -> tuple[str, Scored]:
    from foreshock.datasets import read_series

    s = read_series(path)
    windows = label_windows(path) or []
    scores = stream_scores(s, WindowedGaussian)
    return f"{path.parent.name}/{path.name}", Scored(s.timestamps.tolist(), scores.tolist(),
                                                    [(a.astype(object), b.astype(object)) for a, b in windows])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if args.jobs < 1:
        ap.error(f"--jobs must be at least 1, got {args.jobs}")
    data = Path(args.data)
    paths = [data / "nab", data / "cwru", data / "femto", data / "ims"]
    missing = [p.name for p in paths if not p.is_dir()]
    if missing:  # a partial run would be appended to the results as if it were the full evaluation
        ap.error(f"--data {data}: no {', '.join(missing)} folder; the full evaluation needs nab, cwru, femto and ims")
    items = discover(paths)

    t0 = time.perf_counter()
    for it in items:
        read(it.path)
    t_read = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = evaluate(items, jobs=args.jobs)
    t_eval = time.perf_counter() - t0

    t0 = time.perf_counter()
    nab_paths = [it.path for it in items if it.kind == "nab"]
    with get_context().Pool(args.jobs) as pool:
        baseline = dict(pool.map(_baseline_one, nab_paths))
    base = {k: round(v.score, 2) for k, v in score_corpus(baseline).items()} if baseline else {}
    t_base = time.perf_counter() - t0

    print(render(report))
    runs = report["runs"]
    row = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(), "cpus": os.cpu_count(), "jobs": args.jobs,
        "datasets": len(items),
        "nab": report["nab"], "nab_windowed_gaussian": base,
        "cwru_accuracy": report["record_accuracy"],
        "runs_warned_before_failure": sum(1 for r in runs if r["failure_t"] is not None and r["lead_time_s"]
                                          and r["lead_time_s"] > 0),
        "runs_with_failure": sum(1 for r in runs if r["failure_t"] is not None),
        "runs_false_warnings_first_half": sum(r["false_warnings"] for r in runs if r["failure_t"] is not None),
        "read_only_s": round(t_read, 2), "evaluate_s": round(t_eval, 2), "nab_baseline_s": round(t_base, 2),
        "evaluate_over_read": round(t_eval / t_read, 2) if t_read else None,
    }
    RESULTS.mkdir(exist_ok=True)
    hist_path = RESULTS / "evaluate_all.json"
    hist = json.loads(hist_path.read_text()) if hist_path.exists() else []
    hist.append(row)
    hist_path.write_text(json.dumps(hist, indent=2) + "\n")
    (RESULTS / "evaluate_all_report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")

    print()
    print("| measure | ours | baseline | ratio |")
    print("|---|---|---|---|")
    for prof in ("standard", "reward_low_fp", "reward_low_fn"):
        ours, b = report["nab"][prof], base.get(prof)
        print(f"| NAB {prof} | {ours:.1f} | windowed Gaussian {b:.1f} | {ours - b:+.1f} points |")
    print(f"| wall time, all datasets | {t_eval:.1f} s (evaluate, {args.jobs} jobs) | {t_read:.1f} s (read only) "
          f"| {t_eval / t_read:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
