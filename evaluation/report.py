"""The readable report of ``foreshock evaluate`` (the JSON report is the dict itself).

>>> print(render({"nab": {"standard": 60.1, "reward_low_fp": 51.9, "reward_low_fn": 64.5},
...               "records": [], "runs": [], "fleet": {}}).splitlines()[1])
  standard        60.1   (published: ARTime 74.9, Numenta HTM 70.5, CAD OSE 69.9, Skyline 58.2)
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

__all__ = ["NAB_CORPUS_SERIES", "labels", "render"]

NAB_CORPUS_SERIES = 58  # the series of NAB v1.1 with labels, over which the published scores are taken

_PUBLISHED = {
    "standard": "ARTime 74.9, Numenta HTM 70.5, CAD OSE 69.9, Skyline 58.2",
    "reward_low_fp": "ARTime 65.1, Numenta HTM 62.6, CAD OSE 67.0, Skyline 46.2",
    "reward_low_fn": "ARTime 80.4, Numenta HTM 75.2, CAD OSE 73.2, Skyline 63.9",
}


def _t(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 3 * 3600:
        return f"{v / 3600:.1f} h"
    return f"{v:.0f} s"


def _hms(v: float | None) -> str:
    """A time of the runs' table, all in one unit: hours, minutes and seconds (``7:48:00``), so that a
    column does not mix hours and seconds ("7.8 h" above "8700 s" was misread)."""
    if v is None:
        return "-"
    sign, v = ("-" if v < 0 else ""), abs(round(v))
    return f"{sign}{v // 3600}:{v % 3600 // 60:02d}:{v % 60:02d}"


def _ends_early(run: dict[str, Any]) -> bool:
    """Less than half of the life to failure recorded (a cut file, a failure stamp after the data):
    the run would otherwise read as a plain missed warning. A truncation the sidecar declares for
    the PHM 2012 score is intended and not flagged; a gap of a few hours (a machine stopped before
    it failed) is not flagged either."""
    fail, end = run.get("failure_t"), run.get("duration_s")
    return fail is not None and end is not None and "truncated_at_t" not in run and fail - end > fail / 2


def labels(results: list[dict[str, Any]]) -> list[str]:
    """What each run or record is called in a report: its name, or ``folder/name`` when another of
    the same name was evaluated too (the same unit ids in two simulated fleets).

    >>> labels([{"name": "P-1", "source": "a/P-1.npz"}, {"name": "P-1", "source": "b/P-1.npz"}, {"name": "Q"}])
    ['a/P-1', 'b/P-1', 'Q']
    """
    names = [str(r.get("name")) for r in results]
    out = []
    for r, name in zip(results, names):
        src = r.get("source")
        out.append(f"{PurePath(src).parent.name}/{name}" if names.count(name) > 1 and src else name)
    return out


def _mostly_unassessed(run: dict[str, Any]) -> bool:
    """Half the observations or more came back ``unknown``: "no warning" would read as a result."""
    n, u = run.get("observations"), run.get("unassessed")
    return bool(n) and u is not None and 2 * u >= n


def render(report: dict[str, Any]) -> str:
    out: list[str] = []
    if report.get("nab"):
        detail = report.get("nab_detail") or {}
        series = detail.get("series")
        out.append(f"NAB ({series if series is not None else '?'} series, {detail.get('windows', '?')} windows)")
        whole = series is None or series >= NAB_CORPUS_SERIES
        if detail.get("detector") and not str(detail["detector"]).startswith("detectors.scalar.ScalarAnomaly"):
            out.append(f"  detector: {detail['detector']}")
        for name, score in report["nab"].items():
            out.append(f"  {name:<14}{score:>6.1f}" + (f"   (published: {_PUBLISHED.get(name, '')})" if whole else ""))
        if not whole:
            out.append(f"  (a subset: published scores are over all {NAB_CORPUS_SERIES} series, so they are not "
                       "shown beside it)")
    recs = report.get("records") or []
    if recs:
        out.append(f"Records ({len(recs)})")
        wrong = [(label, r) for label, r in zip(labels(recs), recs) if r["diagnosed_fault"] != (r["true_fault"] or "none")]
        for label, r in wrong:
            if r["diagnosed_fault"] == "none":  # no fault named: there is no diagnosis to be confident in
                why = f"no fault named in {r['votes'].get('none', '?')} of {r['snapshots']} snapshots"
            else:
                why = f"confidence {r['confidence']:.2f}"
            out.append(f"  wrong: {label}: true {r['true_fault']}, diagnosed {r['diagnosed_fault']} ({why})")
        acc = report.get("record_accuracy") or {}
        out.append("  accuracy: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in acc.items()))
    runs = report.get("runs") or []
    if runs:
        out.append(f"Runs ({len(runs)})")
        if report.get("monitor_config"):
            out.append("  engine settings: " + ", ".join(f"{k}={v}" for k, v in report["monitor_config"].items()))
        elif report.get("settings"):
            out.append("  engine settings: the defaults (all of them in the JSON report's settings.engine)")
        for model, own in ((report.get("settings") or {}).get("model_config") or {}).items():
            out.append(f"  engine settings for model {model}: " + ", ".join(f"{k}={v}" for k, v in own.items()))
        out.append(f"  {'name':<28}{'failure':>10}{'warned':>10}{'lead':>10}{'false':>6}{'RUL est':>10}  mode"
                   "   (times h:mm:ss on the run's clock)")
        onset_known = False
        names = labels(runs)
        for name, r in zip(names, runs):
            false = r.get("false_warnings_before_onset")
            onset_known |= false is not None
            false = r["false_warnings"] if false is None else false
            line = (f"  {name:<28}{_hms(r['failure_t']):>10}{_hms(r['first_warning_t']):>10}"
                    f"{_hms(r['lead_time_s']):>10}{false:>6}{_hms(r['rul_estimate_s']):>10}"
                    f"  {r.get('diagnosed_fault') or '-'}")
            if "phm2012_score" in r:
                line += f"  PHM2012 {r['phm2012_score']:.3f}"
            out.append(line)
        out.append("  false: warnings that start in the first half of the run (every warning of a run that does "
                   "not fail)" +
                   ("; before the fault's onset where the run knows it (simulated runs)" if onset_known else ""))
        for name, r in zip(names, runs):
            if _mostly_unassessed(r):
                what = "snapshots" if r.get("kind", "run") == "run" else "values"
                out.append(f"  {name}: {r['unassessed']} of {r['observations']} {what} not assessed "
                           f"({r['unassessed_reason']}): its warnings, lead time and false warnings count only the "
                           "rest")
            if _ends_early(r):
                out.append(f"  {name}: the data end at {_t(r['duration_s'])}, long before its failure at "
                           f"{_t(r['failure_t'])}: a truncated file, or a failure event after the recording; its "
                           "warning and lead time are not measured up to the failure")
        scored = [r["phm2012_score"] for r in runs if "phm2012_score" in r]
        if scored:
            out.append(f"  PHM 2012 score (mean over {len(scored)} truncated runs): {sum(scored) / len(scored):.3f}")
    for folder, s in (report.get("fleet") or {}).items():
        blind = s.get("unassessed_healthy_unit_days") or 0
        out.append(f"Fleet {folder} ({s['units']} units, {s['healthy_unit_days']} healthy unit-days" +
                   (f" assessed; {blind} more not assessed, not counted)" if blind else ")"))
        for kind, c in s["per_fault"].items():
            share = c.get("warned_24h_share")
            share_s = "-" if share is None else f"{100 * share:.0f}%"
            short = c.get("shorter_than_lead") or 0
            if short:  # their 0 % is no miss: no warning could be 24 h ahead of them
                share_s += (" (it failed within 24 h of its onset)" if c["failed"] == 1 else
                            f" ({short} of the {c['failed']} failed within 24 h of their onset)")
            if c.get("median_lead_s") is not None:
                share_s += f"; median lead {_t(c['median_lead_s'])}"
            out.append(f"  {kind:<14}units {c['units']:>3}  failed {c['failed']:>3}  warned >=24 h before: {share_s}")
        fw, acc = s["false_warnings_per_unit_day"], s["diagnosis_accuracy"]
        out.append(f"  false warnings per unit-day: {'- (no healthy time)' if fw is None else fw}; "
                   f"diagnosis accuracy: {'- (no faulty unit was warned)' if acc is None else acc}")
        ttf = s.get("ttf_at_first_warning") or {}
        if ttf.get("units"):
            out.append(f"  time to failure at the first warning ({ttf['units']} units): median "
                       f"{ttf['median_ratio']:.2f} x the time left to the failure, "
                       f"{100 * ttf['within_half_to_double']:.0f}% within half to double, "
                       f"the range held it for {100 * ttf['range_held']:.0f}%")
        silent = s.get("units_without_run") or []
        if silent:
            units = f"{len(silent)} unit{'s' if len(silent) > 1 else ''} of truth.json ha{'ve' if len(silent) > 1 else 's'}"
            more = f" and {len(silent) - 10} more" if len(silent) > 10 else ""
            out.append(f"  {units} no run file (it sent no snapshot in the run: silent, stopped or failed throughout), "
                       f"not scored: {', '.join(silent[:10])}{more}")
        if (s.get("unassessed_share") or 0) >= 0.5:
            out.append(f"  {100 * s['unassessed_share']:.0f}% of the snapshots were not assessed (see the runs above): "
                       "these figures measure the rest only")
    if "elapsed_s" in report:
        out.append(f"({report['elapsed_s']:.1f} s)")
    return "\n".join(out)
