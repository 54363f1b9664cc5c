"""Runs to failure through the live engine, :class:`detectors.UnitMonitor`.

A **run** (FEMTO, simulator) is fed snapshot by snapshot (``update_snapshot``); a **series** with
a failure event (IMS, one health indicator per snapshot) value by value (``update_scalars``). Each
observation is assessed before the engine learns from it, exactly as in the live pipeline. Times
are seconds on the run's own clock (from its first observation). Per run:

- ``first_warning_t``: the first assessment at ``warning`` or worse, and ``lead_time_s`` to failure;
- ``false_warnings``: warning episodes (entries into ``warning`` or worse) that start in the first
  half of the run, when the machine is taken to be healthy (for a run without failure: all of them);
- ``repeated``: snapshots stamped like the one before (a message sent twice), not fed again, as the
  service does not feed them;
- ``observations``, ``unassessed``, ``unassessed_reason``: assessments made, those that were
  ``unknown`` (the engine could not assess: a sensor fault, a sample rate too low, bad data) and the
  most frequent reason; a run mostly unassessed measures nothing; ``healthy_observations`` and
  ``healthy_unassessed``: the same before the fault's onset (all of a run that does not fail);
- ``rul_estimate_s``: the engine's time to failure at the last observation fed; with a sidecar's
  ``phm2012_truncate_at_t`` the run is fed only up to that time and ``phm2012_score`` is the
  PHM 2012 accuracy of that estimate.

>>> round(phm2012_score(actual_s=1000.0, predicted_s=1000.0), 3), round(phm2012_score(1000.0, 500.0), 3)
(1.0, 0.177)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from detectors import BearingGeometry, MachineInfo, Snapshot, UnitMonitor
from detectors.types import FAILURE_MODES, HEALTH_ORDER, Assessment
from evaluation.nab_corpus import find_labels
from foreshock.datasets import DatasetError, Run, Series

__all__ = ["evaluate_failure_series", "evaluate_run", "machine_of", "phm2012_score", "scalar_key"]

_WARN = HEALTH_ORDER["warning"]
_WATCH = HEALTH_ORDER["watch"]


def phm2012_score(actual_s: float, predicted_s: float) -> float:
    """PHM 2012 accuracy of one RUL estimate: ``Er = 100 (actual - predicted) / actual``;
    ``exp(-ln(0.5) Er / 5)`` if ``Er <= 0`` (late), else ``exp(ln(0.5) Er / 20)`` (early)."""
    if actual_s <= 0:
        raise ValueError(f"actual RUL must be positive, got {actual_s}")
    er = 100.0 * (actual_s - predicted_s) / actual_s
    return math.exp(-math.log(0.5) * er / 5.0) if er <= 0 else math.exp(math.log(0.5) * er / 20.0)


def machine_of(meta: dict[str, Any], rpm: Any, where: str | Path | None = None) -> MachineInfo:
    """What the engine knows of the machine: speed, bearing geometry when the sidecar has it
    (``bearing``: null, or an object with ``n_balls``, ``ball_d``, ``pitch_d`` and optionally
    ``contact_deg``) and the ISO zones of its ``machine`` model when it has one (the simulator's). A
    sidecar whose ``bearing``, ``rpm`` or ``machine`` cannot be used raises :class:`DatasetError`
    naming ``where`` (the sidecar)."""
    where = where if where is not None else str(meta.get("name") or "dataset")
    if rpm is not None and not (_number(rpm) and rpm >= 0):
        raise DatasetError(where, f"rpm must be a non-negative number, got {rpm!r}")
    b = meta.get("bearing")
    geo = None
    if b is not None:
        keys = ("n_balls", "ball_d", "pitch_d")
        if not isinstance(b, dict) or not all(k in b for k in keys):
            raise DatasetError(where, f"bearing must be null or an object with {', '.join(keys)} (and optionally "
                                      f"contact_deg), got {b!r}")
        bad = [k for k in (*keys, "contact_deg") if b.get(k) is not None and not _number(b[k])]
        if bad:
            raise DatasetError(where, f"bearing: {', '.join(bad)} must be {'a number' if len(bad) == 1 else 'numbers'}, "
                                      f"got {b!r}")
        if b["n_balls"] != int(b["n_balls"]):
            raise DatasetError(where, f"bearing: n_balls must be a whole number, got {b['n_balls']!r}")
        try:
            geo = BearingGeometry(int(b["n_balls"]), float(b["ball_d"]), float(b["pitch_d"]),
                                  float(b.get("contact_deg") or 0.0))
        except ValueError as exc:
            raise DatasetError(where, f"bearing: {exc}") from None
    return MachineInfo(rated_rpm=rpm or None, bearing=geo, **_zones(meta.get("machine"), where))


def _zones(machine: Any, where: str | Path) -> dict[str, Any]:
    """The ISO zone settings of the sidecar's ``machine`` (the simulator's model: ``iso_group``, ``foundation``,
    ``zone_limits_mm_s``), so that a run is judged as the service judges a unit of that model; none given:
    the engine's defaults."""
    if machine is None:
        return {}
    if not isinstance(machine, dict):
        raise DatasetError(where, f"machine: expected an object (the simulator's machine model), got {machine!r}")
    out: dict[str, Any] = {}
    group = machine.get("iso_group")
    if group is not None:
        if isinstance(group, bool) or group not in (1, 2, 3, 4):
            raise DatasetError(where, f"machine.iso_group: expected 1, 2, 3 or 4, got {group!r}")
        out["iso_group"] = int(group)
    foundation = machine.get("foundation")
    if foundation is not None:
        if foundation not in ("rigid", "flexible"):
            raise DatasetError(where, f"machine.foundation: expected 'rigid' or 'flexible', got {foundation!r}")
        out["foundation"] = foundation
    limits = machine.get("zone_limits_mm_s")
    if limits is not None:
        if not (isinstance(limits, list) and len(limits) == 3 and all(_number(v) for v in limits)
                and 0 < limits[0] < limits[1] < limits[2]):
            raise DatasetError(where, f"machine.zone_limits_mm_s: expected three increasing positive numbers "
                                      f"(A/B, B/C, C/D in mm/s), got {limits!r}")
        out["zone_limits_mm_s"] = tuple(float(v) for v in limits)
    return out


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class _Tracker:
    """Folds a stream of assessments into the run's result."""

    def __init__(self, t0: float, failure_t: float | None, end_t: float) -> None:
        self.t0 = t0
        self.failure_t = failure_t
        self.half = t0 + ((failure_t if failure_t is not None else end_t) - t0) / 2.0
        self.first_warning: float | None = None
        self.first_mode: str | None = None
        self.ttf_at_warning: float | None = None
        self.ttf_range_at_warning: tuple[float | None, float | None] = (None, None)
        self.false_warnings = 0
        self.episodes = 0
        self.was_warning = False
        self.end_t = end_t
        self.warning_times: list[float] = []
        self.modes: Counter[str] = Counter()
        self.watch_modes: Counter[str] = Counter()  # modes named at watch or above, per assessment
        self.last: Assessment | None = None
        self.observations = 0
        self.unassessed: Counter[str] = Counter()  # why the engine could not assess, per observation
        self.unassessed_t: list[float] = []  # when

    def add(self, t: float, a: Assessment) -> None:
        self.last = a
        self.observations += 1
        if a.state == "unknown":
            self.unassessed[a.reasons[0] if a.reasons else "no reason given"] += 1
            self.unassessed_t.append(t)
        warn = a.severity >= _WARN
        if warn and not self.was_warning:
            self.episodes += 1
            self.warning_times.append(t)
            if t < self.half or self.failure_t is None:
                self.false_warnings += 1
            if self.first_warning is None:
                self.first_warning, self.first_mode, self.ttf_at_warning = t, a.failure_mode, a.ttf_s
                self.ttf_range_at_warning = (a.ttf_low_s, a.ttf_high_s)
        if warn and a.failure_mode:
            self.modes[a.failure_mode] += 1
        if a.severity >= _WATCH:
            self.watch_modes[a.failure_mode or "anomaly"] += 1
        self.was_warning = warn

    def result(self, name: str, kind: str, truncate_t: float | None) -> dict[str, Any]:
        rel = (lambda v: None if v is None else round(v - self.t0, 3))
        fail = rel(self.failure_t)
        first = rel(self.first_warning)
        rul = self.last.ttf_s if self.last is not None else None
        out: dict[str, Any] = {
            "name": name, "kind": kind, "failure_t": fail, "first_warning_t": first,
            "lead_time_s": None if fail is None or first is None else round(fail - first, 3),
            "false_warnings": self.false_warnings, "warning_episodes": self.episodes,
            "diagnosed_fault": self.modes.most_common(1)[0][0] if self.modes else self.first_mode,
            "modes_at_watch_or_above": dict(self.watch_modes),
            "ttf_at_first_warning_s": self.ttf_at_warning,
            "ttf_low_at_first_warning_s": self.ttf_range_at_warning[0],
            "ttf_high_at_first_warning_s": self.ttf_range_at_warning[1],
            "rul_estimate_s": None if rul is None else round(float(rul), 3),
            "final_state": self.last.state if self.last is not None else None,
            "duration_s": round(self.end_t - self.t0, 3),
            "warning_times": [rel(t) for t in self.warning_times],
            "observations": self.observations,
            "unassessed": sum(self.unassessed.values()),
            "unassessed_reason": self.unassessed.most_common(1)[0][0] if self.unassessed else None,
        }
        if truncate_t is not None and self.failure_t is not None:
            actual = self.failure_t - truncate_t
            out["truncated_at_t"] = rel(truncate_t)
            out["actual_rul_s"] = round(actual, 3)
            # no estimate means "no failure in sight": scored as an infinitely late (0) prediction
            out["phm2012_score"] = round(phm2012_score(actual, rul), 6) if rul is not None and actual > 0 else 0.0
        return out


def _truncate(meta: dict[str, Any], where: str, *, first_t: float, failure_t: float | None) -> float | None:
    """The sidecar's ``phm2012_truncate_at_t`` (seconds on the run's clock), checked to cut the run
    between its first observation and its failure: else no estimate, or no remaining life, to score."""
    v = meta.get("phm2012_truncate_at_t")
    if v is None:
        return None
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        raise DatasetError(where, f"phm2012_truncate_at_t must be a number of seconds, got {v!r}")
    if failure_t is None:
        raise DatasetError(where, "phm2012_truncate_at_t needs a failure event (the score compares the RUL "
                                  "estimate at the cut with the life actually left)")
    if not first_t <= v < failure_t:
        raise DatasetError(where, f"phm2012_truncate_at_t = {v:g} s is outside the run: it must be at or after the "
                                  f"first observation ({first_t:g} s) and before the failure ({failure_t:g} s)")
    return float(v)


def _check_modes(events: list[dict[str, Any]], where: str) -> None:
    """A failure or onset ``mode`` is the truth the diagnosis is scored against: a misspelt one
    ('outer') can never be matched, and was counted as a wrong diagnosis."""
    for i, ev in enumerate(events):
        mode = ev.get("mode")
        if ev.get("kind") in ("failure", "onset") and mode is not None and mode not in FAILURE_MODES:
            raise DatasetError(where, f"events[{i}].mode: {mode!r} is not a fault the engine can name: expected one "
                                      f"of {', '.join(FAILURE_MODES)}")


def _check_events_given(meta: dict[str, Any], where: str, series: bool = False) -> None:
    """The truth must be stated: a run whose sidecar has no ``events`` was scored as a run that never
    failed, every warning of a failing bearing counted false."""
    if "events" in meta:
        return
    if not series:
        raise DatasetError(where, "no 'events': a run to failure must say whether and when it failed "
                                  "(\"events\": [{\"kind\": \"failure\", \"t\": ...}], or \"events\": [] for one that "
                                  "did not fail); without it every warning would be counted as false")
    # a series is stamped in UTC, its failure too; one without NAB labels is judged as a failure series
    corpus = find_labels(Path(where).resolve())
    unlabelled = (f"a series of the NAB corpus {corpus[0]} with no entry in {corpus[1]} (add its anomaly windows "
                  "there to score it as NAB)" if corpus is not None
                  else "a series outside a NAB corpus (data/ beside labels/combined_windows.json)")
    raise DatasetError(where, f"no 'events': {unlabelled} is judged as a failure series and must say whether and when "
                              "it failed (\"events\": [{\"kind\": \"failure\", \"timestamp\": \"YYYY-MM-DD HH:MM:SS\"}], "
                              "or \"events\": [] for one that did not fail); without it every warning would be counted "
                              "as false")


def _sidecar(source: str | Path | None, name: str) -> str:
    """What an error names: the sidecar of ``source`` (where the keys are), else the run's name."""
    return name if source is None else str(Path(source).with_suffix(".json"))


def evaluate_run(run: Run, *, progress: Callable[[int, int], None] | None = None,
                 monitor: UnitMonitor | None = None, config: dict[str, Any] | None = None,
                 source: str | Path | None = None) -> dict[str, Any]:
    """Stream a run's snapshots through a fresh engine (with ``config``: settings of
    :class:`detectors.MonitorConfig`) and fold the assessments. ``source``: the file it was read
    from, named by errors in its sidecar."""
    _check_events_given(run.meta, _sidecar(source, run.name))
    _check_modes(run.events, _sidecar(source, run.name))
    trunc = _truncate(run.meta, _sidecar(source, run.name), first_t=float(run.t[0]), failure_t=run.failure_t)
    mon = monitor or UnitMonitor(machine_of(run.meta, run.rpm, _sidecar(source, run.name)), **(config or {}))
    t = run.t
    n = len(t) if trunc is None else int(np.searchsorted(t, trunc, side="right"))
    tr = _Tracker(0.0, run.failure_t, float(t[-1]))  # a run's clock already starts at its start
    repeated = 0
    for i in range(n):
        if progress is not None and i % 200 == 0:
            progress(i, n)
        if i and t[i] <= t[i - 1]:  # sent twice (in time order, so the same stamp): the service feeds it once
            repeated += 1
            continue
        a = mon.update_snapshot(Snapshot(ts=float(t[i]), fs=run.fs, samples=run.x[i], rpm=run.rpm or None))
        tr.add(float(t[i]), a)
    res = tr.result(run.name, "run", trunc)
    res["repeated"] = repeated
    res["true_fault"] = run.failure_mode
    onset = next((e for e in run.events if e.get("kind") == "onset"), None)
    res["onset_t"] = None if onset is None else float(onset["t"])
    if onset is not None:
        # the truth is known (a simulated run): a warning is false only before the fault began,
        # while ``false_warnings`` keeps the first-half rule of runs whose onset is unknown
        res["false_warnings_before_onset"] = sum(1 for w in res["warning_times"] if w < res["onset_t"])
    if res["true_fault"] is None and onset is not None:
        res["true_fault"] = onset.get("mode")
    if onset is not None or run.failure_t is None:
        # the healthy time (before the onset; all of a run that does not fail) and how much of it the
        # engine could not assess: a simulated fleet counts only the rest as healthy unit-days
        until = res["onset_t"] if onset is not None else math.inf
        res["healthy_observations"] = int(np.count_nonzero(np.unique(t[:n]) < until))  # each stamp fed once
        res["healthy_unassessed"] = sum(1 for u in tr.unassessed_t if u < until)
    return res


def scalar_key(meta: dict[str, Any]) -> str:
    """The telemetry name a series is fed under: the sidecar's ``value`` (simulator), else
    ``vibration_g`` for a series in g (IMS), else ``value``. The engine reads meaning from it.

    >>> scalar_key({"unit": "g (mean |x| of a 1 s, 20 kHz snapshot)"}), scalar_key({"value": "temperature_c"})
    ('vibration_g', 'temperature_c')
    """
    if isinstance(meta.get("value"), str) and meta["value"]:
        return str(meta["value"])
    unit = str(meta.get("unit") or "")
    return "vibration_g" if unit == "g" or unit.startswith("g ") else "value"


def evaluate_failure_series(series: Series, key: str | None = None,
                            config: dict[str, Any] | None = None, source: str | Path | None = None) -> dict[str, Any]:
    """Stream a scalar health indicator (e.g. IMS mean |x|) through ``UnitMonitor.update_scalars``
    (with ``config``: settings of :class:`detectors.MonitorConfig`). ``source``: the file it was
    read from, named by errors in its sidecar."""
    _check_events_given(series.meta, _sidecar(source, series.name), series=True)
    _check_modes(series.events, _sidecar(source, series.name))
    key = key or scalar_key(series.meta)
    t_all = series.t_ms / 1000.0
    back = np.flatnonzero(np.diff(t_all) < 0)
    if back.size:  # its start, end and truncation were taken from the first and last rows, not the earliest and latest
        i = int(back[0]) + 1
        raise DatasetError(source if source is not None else series.name,
                           f"line {i + 2}: {series.timestamps[i]} is before the line above ({series.timestamps[i - 1]}): "
                           "a failure series is judged in time order; sort its rows by timestamp")
    fail_ms = series.failure_ms
    t0 = float(t_all[0])
    trunc = _truncate(series.meta, _sidecar(source, series.name), first_t=0.0,
                      failure_t=None if fail_ms is None else fail_ms / 1000.0 - t0)
    mon = UnitMonitor(machine_of(series.meta, series.meta.get("rpm"), _sidecar(source, series.name)),
                      **(config or {}))
    tr = _Tracker(t0, None if fail_ms is None else fail_ms / 1000.0, float(t_all[-1]))
    limit = None if trunc is None else t0 + trunc
    for t, v in zip(_iter(t_all), _iter(series.values)):
        if limit is not None and t > limit:
            break
        a = mon.update_scalars(t, {key: v})
        if a is not None:
            tr.add(t, a)
    res = tr.result(series.name, "series", None if limit is None else limit)
    res["true_fault"] = next((e.get("mode") for e in series.events if e.get("kind") == "failure"), None)
    return res


def _iter(a: np.ndarray) -> Iterable[float]:
    return (float(v) for v in a.tolist())
