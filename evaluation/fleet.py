"""Summary of a simulated fleet from its units' run results (see :mod:`evaluation.runs`).

The simulator writes each unit's run with its ground truth in the sidecar's events (``onset`` and
``failure`` with the fault ``mode``). Per fault kind: the share of units that failed and were
warned at least ``lead_s`` (24 simulated hours) before, those whose fault took less than that from
onset to failure (no warning could be that far ahead) and the median lead of the warned; false
warnings per unit-day, counting the warning episodes that start before a unit's fault onset (any,
for a healthy unit) over the healthy unit-days (leaving out, and giving apart, the share of a
unit's healthy time the engine could not assess); the diagnosis accuracy over the warned faulty
units; and the share of snapshots the engine could not assess (``unknown``), which the other
figures do not count. And the time to failure the first warnings carried
(``ttf_at_first_warning``): per failed and warned unit with an estimate, the estimate over the time
actually left to the failure (``median_ratio``, above 1 too late; the share within half to double)
and the share whose range held that time. The engine estimates the time to *its* alarm limit, which
a simulated unit reaches somewhat before its failure, so against the failure the estimates lean early.

>>> runs = [{"name": "a", "true_fault": "imbalance", "failure_t": 200000.0, "onset_t": 50000.0,
...          "first_warning_t": 90000.0, "warning_times": [90000.0], "diagnosed_fault": "imbalance",
...          "duration_s": 259200.0},
...         {"name": "b", "true_fault": None, "failure_t": None, "onset_t": None, "first_warning_t": None,
...          "warning_times": [], "diagnosed_fault": None, "duration_s": 259200.0}]
>>> s = summarise(runs)
>>> s["per_fault"]["imbalance"]["warned_24h_share"], s["false_warnings_per_unit_day"], s["diagnosis_accuracy"]
(1.0, 0.0, 1.0)
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

__all__ = ["summarise"]

DAY_S = 86400.0


def summarise(runs: list[dict[str, Any]], *, lead_s: float = DAY_S) -> dict[str, Any]:
    per: defaultdict[str, dict[str, int]] = defaultdict(
        lambda: {"units": 0, "failed": 0, "warned_24h": 0, "shorter_than_lead": 0})
    leads: defaultdict[str, list[float]] = defaultdict(list)
    false = 0
    healthy_s = unassessed_s = 0.0
    diag_hit = diag_n = 0
    ttf_ratios: list[float] = []
    ttf_held: list[bool] = []
    observed = unassessed = 0
    for r in runs:
        observed += r.get("observations") or 0
        unassessed += r.get("unassessed") or 0
        kind = r.get("true_fault") or "none"
        per[kind]["units"] += 1
        onset = r.get("onset_t")
        healthy_until = onset if onset is not None else r["duration_s"]
        span = max(min(healthy_until, r["duration_s"]), 0.0)
        seen, blind = r.get("healthy_observations"), r.get("healthy_unassessed") or 0
        if seen is not None:  # time the engine could not assess (a sensor fault, a rate too low, no snapshot
            share = blind / seen if seen else 1.0  # at all) is no healthy time seen
            unassessed_s += span * share
            span *= 1.0 - share
        healthy_s += span
        false += sum(1 for t in r.get("warning_times", []) if t < healthy_until)
        fail = r.get("failure_t")
        if fail is not None:  # the simulator writes a failure event only if it happened within the run
            per[kind]["failed"] += 1
            first = r.get("first_warning_t")
            if first is not None and fail - first >= lead_s:
                per[kind]["warned_24h"] += 1
            if first is not None:
                leads[kind].append(fail - first)
                est, left = r.get("ttf_at_first_warning_s"), fail - first
                if est is not None and left > 0:
                    ttf_ratios.append(est / left)
                    lo, hi = r.get("ttf_low_at_first_warning_s"), r.get("ttf_high_at_first_warning_s")
                    ttf_held.append(lo is not None and hi is not None and lo <= left <= hi)
            if onset is not None and fail - onset < lead_s:  # no warning could come that far ahead
                per[kind]["shorter_than_lead"] += 1
        if kind != "none" and r.get("first_warning_t") is not None:
            diag_n += 1
            diag_hit += r.get("diagnosed_fault") == kind
    out_per: dict[str, dict[str, float]] = {}
    for kind, c in sorted(per.items()):
        out_per[kind] = dict(c)
        if c["failed"]:
            out_per[kind]["warned_24h_share"] = round(c["warned_24h"] / c["failed"], 3)
            out_per[kind]["median_lead_s"] = round(statistics.median(leads[kind]), 3) if leads[kind] else None
    days = healthy_s / DAY_S
    return {
        "units": len(runs),
        "per_fault": out_per,
        "false_warnings": false,
        "healthy_unit_days": round(days, 3),
        "unassessed_healthy_unit_days": round(unassessed_s / DAY_S, 3),
        "false_warnings_per_unit_day": round(false / days, 4) if days > 0 else None,
        "diagnosis_accuracy": round(diag_hit / diag_n, 3) if diag_n else None,
        "unassessed_share": round(unassessed / observed, 3) if observed else None,
        "ttf_at_first_warning": {
            "units": len(ttf_ratios),
            "median_ratio": round(statistics.median(ttf_ratios), 3) if ttf_ratios else None,
            "within_half_to_double": round(sum(0.5 <= x <= 2 for x in ttf_ratios) / len(ttf_ratios), 3) if ttf_ratios else None,
            "range_held": round(sum(ttf_held) / len(ttf_held), 3) if ttf_held else None,
        },
    }
