"""Two reports of ``foreshock evaluate`` side by side: what a change of settings (or of code) did.

``foreshock evaluate --compare BEFORE.json AFTER.json`` reads two JSON reports and says, for the
datasets both evaluated, which figures changed: the engine settings that differ, each run's first
warning, lead time, false warnings and named fault, each simulated fleet's summary, the NAB scores
and the CWRU diagnoses. Datasets only one report holds are named, not compared.

>>> b = {"runs": [{"name": "P-1", "failure_t": 100.0, "first_warning_t": 40.0, "lead_time_s": 60.0,
...                "false_warnings": 0, "diagnosed_fault": "outer_race"}]}
>>> a = {"runs": [{"name": "P-1", "failure_t": 100.0, "first_warning_t": 70.0, "lead_time_s": 30.0,
...                "false_warnings": 0, "diagnosed_fault": "outer_race"}]}
>>> compare(b, a)["runs"]
[{'name': 'P-1', 'changed': {'first_warning_t': [40.0, 70.0], 'lead_time_s': [60.0, 30.0]}}]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evaluation.report import labels

__all__ = ["CompareError", "compare", "load_report", "render_comparison"]

# per run: what an engineer compares (the warning times list and diagnostics stay in the reports)
RUN_FIELDS = ("failure_t", "first_warning_t", "lead_time_s", "false_warnings", "false_warnings_before_onset",
              "diagnosed_fault", "rul_estimate_s", "unassessed")
FLEET_FIELDS = ("false_warnings", "false_warnings_per_unit_day", "diagnosis_accuracy", "unassessed_share")


class CompareError(ValueError):
    """A file that is not a report of ``foreshock evaluate``."""


def load_report(path: str | Path) -> dict[str, Any]:
    """A JSON report written by ``foreshock evaluate --json``; :class:`CompareError` naming the file."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompareError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise CompareError(f"{p}: is a folder; give the JSON report written by --json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompareError(f"{p}: not a JSON report of foreshock evaluate ({exc})") from None
    if not isinstance(doc, dict) or not {"runs", "records", "nab"} & set(doc):
        raise CompareError(f"{p}: not a JSON report of foreshock evaluate (no runs, records or nab)")
    return doc


def _settings(report: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """The engine settings a report was made with, and whether they are all of them: a report's
    ``settings`` block holds all; an older report only what ``monitor_config`` changed (or nothing)."""
    s = report.get("settings")
    if isinstance(s, dict) and isinstance(s.get("engine"), dict):
        return dict(s["engine"]), True
    return report.get("monitor_config"), False


def _settings_changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    (sb, full_b), (sa, full_a) = _settings(before), _settings(after)
    # all settings when both reports hold them; else the ones a partial record names (the defaults
    # of the release that wrote an older report are not known here)
    keys = set(sb or {}) | set(sa or {}) if full_b and full_a else set(
        k for side, full in ((sb, full_b), (sa, full_a)) if not full for k in side or {})
    changed = {k: [(sb or {}).get(k), (sa or {}).get(k)] for k in sorted(keys) if (sb or {}).get(k) != (sa or {}).get(k)}
    mb, ma = ((r.get("settings") or {}).get("model_config") or {} for r in (before, after))
    for model in sorted(set(mb) | set(ma)):  # --model-config: settings of one model's runs, MODEL:KEY
        own_b, own_a = mb.get(model) or {}, ma.get(model) or {}
        changed.update({f"{model}:{k}": [own_b.get(k), own_a.get(k)] for k in sorted(set(own_b) | set(own_a))
                        if own_b.get(k) != own_a.get(k)})
    return {"before": sb, "after": sa, "changed": changed}


def _changed(before: dict[str, Any], after: dict[str, Any], keys: tuple[str, ...]) -> dict[str, list[Any]]:
    """The ``keys`` both hold with different values: a key one report lacks (written by a release
    before it) is not a change."""
    return {k: [before[k], after[k]] for k in keys if k in before and k in after and before[k] != after[k]}


def _run_changes(before: dict[str, Any], after: dict[str, Any], keys: tuple[str, ...]) -> dict[str, list[Any]]:
    c = _changed(before, after, keys)
    if "false_warnings_before_onset" in before or "false_warnings_before_onset" in after:
        c.pop("false_warnings", None)  # the onset is known (a simulated run): the first-half rule does not apply
    return c


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    items = items or []
    return dict(zip(labels(items), items))


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What differs between two reports (JSON-able; each change as ``[before, after]``)."""
    out: dict[str, Any] = {}
    out["settings"] = _settings_changed(before, after)
    for section in ("runs", "records"):
        b, a = _by_name(before.get(section) or []), _by_name(after.get(section) or [])
        out[f"{section}_only_before"] = sorted(set(b) - set(a))
        out[f"{section}_only_after"] = sorted(set(a) - set(b))
        common = [n for n in b if n in a]
        fields = RUN_FIELDS if section == "runs" else ("diagnosed_fault",)
        out[section] = [{"name": n, "changed": c} for n in common if (c := _run_changes(b[n], a[n], fields))]
        out[f"{section}_compared"] = len(common)
    out["nab"] = {k: [(before.get("nab") or {}).get(k), (after.get("nab") or {}).get(k)]
                  for k in sorted(set(before.get("nab") or {}) | set(after.get("nab") or {}))}
    acc_b, acc_a = before.get("record_accuracy") or {}, after.get("record_accuracy") or {}
    out["record_accuracy"] = {k: [acc_b.get(k), acc_a.get(k)] for k in sorted(set(acc_b) | set(acc_a))}
    fleets: dict[str, Any] = {}
    fb, fa = before.get("fleet") or {}, after.get("fleet") or {}
    for name in sorted(set(fb) & set(fa)):
        change = _changed(fb[name], fa[name], FLEET_FIELDS)
        pb, pa = fb[name].get("per_fault") or {}, fa[name].get("per_fault") or {}
        for kind in sorted(set(pb) | set(pa)):
            b_share, a_share = (pb.get(kind) or {}).get("warned_24h_share"), (pa.get(kind) or {}).get("warned_24h_share")
            if b_share != a_share:
                change[f"{kind}.warned_24h_share"] = [b_share, a_share]
        fleets[name] = change
    out["fleet"] = fleets
    out["fleet_only_before"], out["fleet_only_after"] = sorted(set(fb) - set(fa)), sorted(set(fa) - set(fb))
    return out


def _v(value: Any, key: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and (key.endswith("_t") or key.endswith("_s")):
        return f"{value / 3600:.1f} h" if abs(value) >= 3 * 3600 else f"{value:.0f} s"
    if isinstance(value, float) and key.endswith("share"):
        return f"{100 * value:.0f}%"
    return str(value)


def _pair(pair: list[Any], key: str) -> str:
    return f"{_v(pair[0], key)} -> {_v(pair[1], key)}"


def render_comparison(c: dict[str, Any], before: str = "before", after: str = "after") -> str:
    """The readable comparison (``c`` from :func:`compare`)."""
    out = [f"Comparison: {before} -> {after}"]
    s = c["settings"]
    if s["before"] is None or s["after"] is None:
        missing = " and ".join(n for n, v in ((before, s["before"]), (after, s["after"])) if v is None)
        out.append(f"  engine settings: not recorded in {missing} (written before reports held them, or "
                   "defaults without --monitor-config)")
    if s["changed"]:
        def shown(key: str, v: Any, side: dict[str, Any] | None) -> str:
            # a model's own setting absent: the run used the general one; a setting recorded as null (an
            # optional one, failure_peak_g): not set; one the report does not hold: not recorded
            if v is not None:
                return str(v)
            return "(not set)" if ":" in key or key in (side or {}) else "(not recorded)"

        out.append("  engine settings changed: " + ", ".join(
            f"{k} {shown(k, b, s['before'])} -> {shown(k, a, s['after'])}" for k, (b, a) in s["changed"].items()))
    elif s["before"] is not None and s["after"] is not None:
        out.append("  engine settings: the same")
    for section, what in (("runs", "Runs"), ("records", "Records")):
        n = c[f"{section}_compared"]
        only_b, only_a = c[f"{section}_only_before"], c[f"{section}_only_after"]
        if not (n or only_b or only_a):
            continue
        out.append(f"{what}: {n} in both, {len(c[section])} changed")
        for r in c[section]:
            out.append(f"  {r['name']}: " + "; ".join(f"{k} {_pair(v, k)}" for k, v in r["changed"].items()))
        if only_b:
            out.append(f"  only in {before} (not compared): {_some(only_b)}")
        if only_a:
            out.append(f"  only in {after} (not compared): {_some(only_a)}")
    acc = c["record_accuracy"] if c["records_compared"] else {}
    if acc and all(b == a for b, a in acc.values()):
        out.append("  accuracy unchanged: " + ", ".join(f"{k} {_pct(v[0])}" for k, v in acc.items()))
    elif acc:
        out.append("  accuracy: " + ", ".join(f"{k} {_pct(v[0])} -> {_pct(v[1])}" for k, v in acc.items()))
    for name, change in c["fleet"].items():
        out.append(f"Fleet {name}: " + ("; ".join(f"{k} {_pair(v, k)}" for k, v in change.items())
                                       if change else "unchanged"))
    for key, where in (("fleet_only_before", before), ("fleet_only_after", after)):
        if c[key]:
            out.append(f"  fleet only in {where} (not compared): {', '.join(c[key])}")
    if c["nab"] and any(None in v for v in c["nab"].values()):
        out.append(f"NAB: only in {before if all(v[0] is not None for v in c['nab'].values()) else after} "
                   "(not compared)")
    elif c["nab"] and all(b == a for b, a in c["nab"].values()):
        out.append("NAB unchanged: " + ", ".join(f"{k} {_v(v[0], k)}" for k, v in c["nab"].items()))
    elif c["nab"]:
        out.append("NAB: " + ", ".join(f"{k} {_pair(v, k)}" for k, v in c["nab"].items()))
    return "\n".join(out)


def _some(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"
