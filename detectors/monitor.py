"""One unit's condition monitor: snapshots and scalar telemetry in, an :class:`Assessment` out.

This is the single entry point the live pipeline and ``foreshock evaluate`` drive. Per snapshot:

1. bad input (NaN, inf, empty, too short, bad rate) and sensor faults (:mod:`detectors.sensor`)
   give ``unknown`` with the reason, never an exception and never a warning;
2. operating transients (stopped, speed away from the baseline's) hold the last state and are
   not learnt from;
3. features (:func:`detectors.features.snapshot_features`) feed the absolute detector (ISO zone
   with hysteresis: C → warning, D → alarm); while the baseline is learnt, the baseline-free
   :class:`detectors.commissioning.CommissioningCheck` (defect lines against the spectrum's own
   floor, growth since commissioning began; what it judges warning is not learnt); after
   commissioning, the adaptive ones: robust
   z-scores per feature, Hotelling T² of the feature vector (calibrated p-value), a Page-Hinkley
   test on the health indicator; an anomaly must persist before it becomes a warning, and a
   sudden level step without a rising trend is treated as an operating change (watch at most);
4. when not healthy: the failure mode with evidence (:mod:`detectors.explain`) and the time until
   the alarm limit from the indicator's trend (:mod:`detectors.prognosis`).

The alarm limit is generic unless the machine's own is stated: the RMS at ``alarm_ratio`` x its
reference, or ISO zone D of the velocity. A model that states its functional-failure level in absolute
terms (``failure_peak_g``: a snapshot's peak; ``failure_rms_g``: its RMS, in g) has that level as the
alarm and as the limit of the time to failure instead, and the generic limits are a warning
(:meth:`UnitMonitor._ttf`, :meth:`UnitMonitor._failure_alarm`).

State is per unit, bounded and serialisable (``state_dict`` / ``from_state``).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> mon = UnitMonitor(MachineInfo(rated_rpm=1800), warmup=10)
>>> for i in range(10):
...     _ = mon.update_snapshot(Snapshot(ts=i, fs=25600, samples=rng.normal(0, 0.1, 2560)))
>>> mon.update_snapshot(Snapshot(ts=10, fs=25600, samples=rng.normal(0, 0.1, 2560))).state
'healthy'
>>> mon.update_snapshot(Snapshot(ts=11, fs=25600, samples=np.full(2560, 0.5))).sensor_fault
'stuck'
"""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from detectors.commissioning import CommissioningCheck
from detectors.config import MonitorConfig
from detectors.diagnosis import diagnose
from detectors.explain import explain
from detectors.features import snapshot_features, velocity_band
from detectors.fusion import PrimaryMode
from detectors.iso import IsoZoneDetector, zone_limits
from detectors.mahalanobis import Mahalanobis
from detectors.pagehinkley import PageHinkley
from detectors.prognosis import ExpTrend
from detectors.scalars import ScalarPanel
from detectors.sensor import check_sensor, fingerprint
from detectors.shaft import shaft_pattern_parts
from detectors.spectrum import Spectrum
from detectors.statepack import pack_floats, unpack_floats
from detectors.types import HEALTH_ORDER, Assessment, HealthState, MachineInfo, Samples, Snapshot, checked_samples
from detectors.zscore import RobustZScore

__all__ = ["MonitorConfig", "UnitMonitor"]

_STATES: tuple[HealthState, ...] = ("healthy", "watch", "warning", "alarm")
_LOG_KEYS = ("rms_g", "velocity_rms_mm_s", "v1x_mm_s", "v2x_mm_s", "v3x_mm_s")
_MV_KEYS = ("rms_g", "velocity_rms_mm_s", "kurtosis", "env_kurtosis", "hf")
_SHAFT_MODES = ("imbalance", "misalignment", "looseness")
_ORDERS = ("v1x_mm_s", "v2x_mm_s", "v3x_mm_s")  # the velocity at 1x, 2x, 3x shaft speed
_ISO_STATE = {"A": "healthy", "B": "healthy", "C": "warning", "D": "alarm"}
# snapshots of a commissioning the baselines keep at most (evenly spread over a longer ``warmup``):
# about 200 bytes of state each (18 features packed; the T² rows are the same points, saved once), so a
# unit's state stays under 64 KB whatever warmup a model sets, with the most scalar series too
BASELINE_POINTS = 64


# the Page-Hinkley statistic of the health indicator at most this many times its threshold: a rise
# that has ended stops signalling ph_threshold / ph_delta snapshots later (unbounded, a few hours of a
# disturbance held the unit in watch for ~900 snapshots)
PH_CAP = 1.5
# a step of the whole spectrum (:meth:`UnitMonitor._uniform_step`): every band at least 1.3x its baseline
# (log), each within 25 % of the bands' median ratio (or 3 of its robust SD)
_STEP_LEAST, _STEP_SPREAD = math.log(1.3), math.log(1.25)


def _real(v: Any) -> bool:
    """A real number (int, float or numpy's), not a bool, a string or None."""
    t = type(v)
    if t is float or t is int:  # the usual cases, without the abstract base class' check
        return True
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _median(values: list[float]) -> float:
    """``statistics.median(values)``, the same number: the middle of the sorted values, or the mean of
    the middle two (without statistics' own overhead, on the monitor's few values)."""
    data = sorted(values)
    n = len(data)
    if n == 0:
        raise statistics.StatisticsError("no median for empty data")
    if n % 2 == 1:
        return data[n // 2]
    i = n // 2
    return (data[i - 1] + data[i]) / 2


def _watched(feats: dict[str, float]) -> dict[str, float]:
    """The features the adaptive detectors watch, positive magnitudes on a log scale."""
    plan, bands = _watch_plan(tuple(feats))
    out: dict[str, float] = {}
    for k, on_log in plan:  # in the features' order
        v = feats[k]
        out[k] = math.log(max(v, 1e-9)) if on_log else v
    if bands:
        out["hf"] = math.log(max(sum(math.exp(2 * out[k]) for k in bands), 1e-18)) / 2
    return out


@lru_cache(maxsize=64)
def _watch_plan(keys: tuple[str, ...]) -> tuple[tuple[tuple[str, bool], ...], tuple[str, ...]]:
    """For the feature names ``keys`` (every snapshot of a unit has the same): the names
    :func:`_watched` takes, in order, each with whether on a log scale; and the bands at or above
    1 kHz it sums into ``hf``, in order."""
    plan = []
    for k in keys:
        if k in _LOG_KEYS or (k.startswith("band_") and k.endswith("_g")):
            plan.append((k, True))
        elif k in ("kurtosis", "crest", "env_kurtosis", "bpfo_db", "bpfi_db", "bsf_db"):
            plan.append((k, False))
    bands = tuple(k for k, _ in plan if k.startswith("band_") and float(k.split("_")[1]) >= 1000)
    return tuple(plan), bands


def _carry_snapshot(a: Assessment, last: Assessment, *, vibration_rules: bool) -> None:
    """Give a scalar record's assessment ``a`` what the last snapshot's assessment ``last`` concluded and
    the scalars cannot: its time to failure (and range), counted down by the time since, where it is the
    earlier one; and, when the vibration sets the state (``vibration_rules``), its reasons first.

    Telemetry arrives between snapshots (every minute against every 10 min to 1 h), and a unit's latest
    assessment is the one the service shows and stores.
    """
    if last.ttf_s is not None:
        elapsed = max(a.ts - last.ts, 0.0)
        est, low, high = (None if v is None else max(v - elapsed, 0.0)
                          for v in (last.ttf_s, last.ttf_low_s, last.ttf_high_s))
        if a.ttf_s is None or est < a.ttf_s:
            a.ttf_s, a.ttf_low_s, a.ttf_high_s = est, low, high
    if vibration_rules:
        a.reasons = last.reasons + [r for r in a.reasons if r not in last.reasons]


_LAST_KEYS = ("ts", "state", "reasons", "failure_mode", "confidence", "evidence", "ttf_s", "ttf_low_s", "ttf_high_s")


def _last_state(a: Assessment | None) -> dict[str, Any] | None:
    """What the monitor keeps of its last snapshot assessment across a restart (bounded: reasons and
    evidence as the assessment carries them, at most 10 and 20)."""
    if a is None:
        return None
    d = {k: getattr(a, k) for k in _LAST_KEYS}
    d["reasons"], d["evidence"] = list(a.reasons[:10]), list(a.evidence[:20])
    return d


def _last_restored(d: Any) -> Assessment | None:
    if d is None:
        return None
    if not isinstance(d, dict) or not _real(d.get("ts")) or d.get("state") not in HEALTH_ORDER:
        raise ValueError(f"last must be a saved assessment (ts, state), got {str(d)[:80]!r}")
    for key in ("confidence", "ttf_s", "ttf_low_s", "ttf_high_s"):
        if d.get(key) is not None and not _real(d[key]):
            raise ValueError(f"last.{key} must be a number or null, got {d[key]!r}")
    if not isinstance(d.get("reasons", []), list) or not isinstance(d.get("evidence", []), list):
        raise ValueError("last.reasons and last.evidence must be lists")
    return Assessment(**{k: d[k] for k in _LAST_KEYS if k in d})


def _share_trend_times(trends: dict[str, dict]) -> dict | None:
    """The times the monitor's trends share (every snapshot feeds them all at its time), saved once: each
    trend's saved ``points`` become ``values`` and its tiers' ``coarse`` (t, value, variance) triples
    (value, variance) pairs, in place. None, and the trends left as they are, unless every trend has points
    and the very same times in its window and in each tier (a value one trend could not take)."""
    if len(trends) < 2 or not all(isinstance(t.get("points"), str) and t["points"] for t in trends.values()):
        return None
    flats = {k: unpack_floats(t["points"]) for k, t in trends.items()}
    coarse = {k: [unpack_floats(c) for c in t.get("coarse", [])] for k, t in trends.items()}
    first = next(iter(trends))
    times, tier_times = flats[first][0::2], [c[0::3] for c in coarse[first]]
    if any(f[0::2] != times or [c[0::3] for c in coarse[k]] != tier_times for k, f in flats.items()):
        return None
    for k, t in trends.items():
        del t["points"]
        t["values"] = pack_floats(flats[k][1::2])
        if "coarse" in t:
            t["coarse"] = [pack_floats(v for i, v in enumerate(c) if i % 3) for c in coarse[k]]
    return {"points": pack_floats(times), "coarse": [pack_floats(tt) for tt in tier_times]}


def _unshare_trend_times(trends: Any, shared: Any) -> dict[str, dict]:
    """The trends' states as :class:`ExpTrend` saves them, from :func:`_share_trend_times`' form; a part
    that does not fit is refused by name (ValueError)."""
    if not isinstance(trends, dict) or not isinstance(shared, dict) or not isinstance(shared.get("coarse"), list):
        raise ValueError("trend_times must hold the trends' shared points and tier times")
    times, tier_times = unpack_floats(shared.get("points", "")), [unpack_floats(c) for c in shared["coarse"]]
    out: dict[str, dict] = {}
    for k, t in trends.items():
        if not isinstance(t, dict) or "values" not in t:
            raise ValueError(f"trends.{k}: saved without its times, but holds no values for the shared ones")
        values = unpack_floats(t["values"])
        if len(values) != len(times):
            raise ValueError(f"trends.{k}: {len(values)} values for {len(times)} shared times")
        t = {key: v for key, v in t.items() if key != "values"}
        t["points"] = pack_floats(v for pair in zip(times, values, strict=True) for v in pair)
        if "coarse" in t:
            pairs = [unpack_floats(c) for c in t["coarse"]]
            if len(pairs) != len(tier_times) or any(len(p) != 2 * len(tt) for p, tt in zip(pairs, tier_times, strict=False)):
                raise ValueError(f"trends.{k}: its tiers do not match the shared tier times")
            t["coarse"] = [pack_floats(v for j, tt in enumerate(ts) for v in (tt, p[2 * j], p[2 * j + 1]))
                           for ts, p in zip(tier_times, pairs, strict=True)]
        out[k] = t
    return out


class UnitMonitor:
    """Per-unit engine; ``**config`` are the fields of :class:`MonitorConfig`.

    A setting that does not exist, has the wrong type or an impossible value raises
    ``ValueError`` naming it (``warmpu`` → *did you mean warmup?*).
    """

    def __init__(self, machine: MachineInfo | None = None, **config: Any) -> None:
        MonitorConfig.check_names(config)
        self.machine = machine or MachineInfo()
        self.config = MonitorConfig(**config)
        self.axis: str | None = None  # the axis followed (config.axis, else the first sent)
        self._reset()

    def _reset(self) -> None:
        c, m = self.config, self.machine
        self._new_baselines()
        self.iso = IsoZoneDetector(zone_limits(m.iso_group, m.foundation, m.zone_limits_mm_s), c.iso_hysteresis)
        self.ph = PageHinkley(delta=c.ph_delta, threshold=c.ph_threshold, mean=0.0, cap=PH_CAP)
        self._new_trends()
        self.scalars = ScalarPanel(c)
        self.n_learnt = 0
        self.ewma = 0.0
        self.streak = 0
        self.step = False  # the current episode began as an abrupt level step
        self.hi_buf: list[float] = []
        self.v_buf: list[float] = []  # recent velocities: the ISO zone is judged on their median
        self.order_buf: dict[str, list[float]] = {}  # recent 1x, 2x, 3x velocities: their medians' growth
        self.ref: float | None = None  # lowest settled health indicator since commissioning
        self.prev_ratio = 1.0
        self.level = 0  # adaptive level of the last snapshot, 0..3
        self.calm = 0
        self.step_count = 0
        self.step_ts = 0.0
        self.step_n = 0  # snapshots since the step
        self.step_level: tuple[float, float] | None = None  # lowest running medians of RMS and velocity since
        self.step_k: float | None = None  # a step of the whole spectrum: its factor
        self.base_rpm: float | None = None
        self.away_rpm: float | None = None  # a steady speed away from the baseline's, and for how many snapshots
        self.away_n = 0
        self.relearn_note: str | None = None  # why the baseline is being learnt again, while it is
        self.prev_fp: list[float] | None = None
        self.snap_state = "healthy"
        self.scalar_state = "healthy"
        self.scalar_mode: str | None = None
        self.env_band: tuple[float, float] | None = None  # envelope demodulation band in use (Hz)
        self.env_fs = 0.0
        self.band_age = 0
        self.primary = PrimaryMode(c.mode_hold, c.mode_memory_s, c.name_wait)
        self.last: Assessment | None = None
        # recent values of the features a stated failure limit judges (config.failure_limits), and whether
        # the limit is reached (held until the level falls iso_hysteresis below it)
        self.fail_buf: dict[str, list[float]] = {}
        self.failed = False

    # ------------------------------------------------------------------ snapshots
    def follows(self, axis: str) -> bool:
        """Whether snapshots of ``axis`` are the ones this monitor assesses.

        A unit's baseline belongs to one sensor axis: x, y and z differ in level and spectrum,
        and interleaved they would look like a machine changing (or, two equal ones, like a stuck
        sensor). The monitor follows ``config.axis`` if set, else the first axis it is asked
        about; the caller stores the other axes and does not feed them. Setting ``config.axis``
        to another axis than the one followed learns the baseline again on the new one.
        """
        want = self.config.axis or self.axis
        if self.axis is not None and want != self.axis:
            self._rebaseline()
            self.relearn_note = f"now following axis {want!r} (was {self.axis!r}): learning its baseline"
        self.axis = want or axis
        return axis == self.axis

    def update_snapshot(self, snap: Snapshot) -> Assessment:
        """Assess one waveform snapshot; never raises on bad data."""
        if not _real(snap.ts) or not math.isfinite(snap.ts):
            return self._unknown(snap.ts, f"cannot assess: timestamp {snap.ts!r} is not a finite number of seconds")
        problem, x, magnitude, peak = checked_samples(snap)  # (snapshot_problem, and the samples as float64)
        if problem is not None:
            return self._unknown(snap.ts, f"cannot assess: {problem}")
        fs = float(snap.fs)
        if fs < 2 * 1000.0:
            return self._unknown(snap.ts, f"cannot assess: sample rate {fs:g} Hz cannot resolve the 1,000 Hz "
                                          "velocity band, let alone the bearing defect frequencies")
        top_f = self._top_defect_hz(snap)
        if top_f and 2 * top_f > fs:
            return self._unknown(snap.ts, f"cannot assess: sample rate {fs:g} Hz cannot resolve the bearing defect "
                                          f"frequencies and harmonics up to {top_f:.0f} Hz")
        # the reductions of the samples the sensor check, the fingerprint, the spectrum and the features
        # all read, each made once
        samples = Samples(x, magnitude, peak)  # type: ignore[arg-type]
        fp = fingerprint(x, samples)
        fault, why = check_sensor(x, self.prev_fp, current=fp, samples=samples)
        self.prev_fp = fp
        if fault is not None:
            a = self._unknown(snap.ts, why)
            a.sensor_fault = fault
            return a
        # one spectrum for the features, the envelope and, if needed, the shaft rules and the diagnosis
        sp = Spectrum.of(x, fs, total=samples.total)
        feats = self._features(snap, fs, sp, samples)
        transient = self._transient(snap, feats)
        if transient:
            return self._held(snap.ts, transient, feats)
        self.v_buf = (self.v_buf + [feats["velocity_rms_mm_s"]])[-self.config.smooth:]
        self._follow_failure_limits(feats)
        # ISO zones judge a measured velocity: the snapshot must resolve the band's lower edge
        # (its first used bin, 2 bins above DC, at or below 10 Hz, or 2 Hz under 600 rpm)
        iso_valid = 2 * fs / x.size <= velocity_band(self.machine)[0]  # type: ignore[union-attr]
        zone = self.iso.update(_median(self.v_buf)) if iso_valid else ""
        watched = _watched(feats)
        if not self.baseline.ready:
            return self._commissioning(snap, feats, watched, zone, sp)
        self.relearn_note = None
        return self._adaptive(snap, feats, watched, zone, sp)

    def _commissioning(self, snap: Snapshot, feats: dict[str, float], watched: dict[str, float],
                       zone: str, sp: Spectrum) -> Assessment:
        """A snapshot while the baseline is learnt: judged by what needs no baseline (the ISO zone and
        :class:`detectors.commissioning.CommissioningCheck`: defect lines against the spectrum's own
        floor, growth since commissioning began), and learnt unless that judges it warning or worse."""
        c, chk = self.config, self.commissioning
        # thresholds from ``self.config``, which the service may change while the unit runs
        chk.smooth, chk.persistence, chk.family_db = c.smooth, c.persistence, c.family_db
        chk.watch_ratio, chk.warning_ratio, chk.alarm_ratio = c.watch_ratio, c.warning_ratio, c.alarm_ratio
        # the diagnosis takes the snapshot's spectrum and the checks it has passed here (assessable by
        # snapshot_problem, not constant: the sensor check) instead of making them again
        found = chk.update(snap.ts, feats["rms_g"], diagnose(snap, self.machine, spectrum=sp, checked=True))
        # the time-to-failure trends are fed while the unit commissions too: a unit warned meanwhile (its
        # commissioning then waits, maybe until the failure) gets an estimate as any other. Their window
        # only: the tiers' means would begin with it, and a commissioning's own state (its baselines'
        # points) and full tiers are never kept at once (64 KB per unit)
        for key, tr in self.trends.items():
            tr.update(snap.ts, feats[key], coarse=False)
        learn = found.level < 2  # a developing fault is not the unit's normal: commissioning waits
        if learn:
            self.baseline.learn_one(watched)
            if self.baseline.ready:
                # commissioned: the trends start afresh with the adaptive stage, as they always did. Kept,
                # the commissioning's healthy levels (a day and more of them, with its stops) lowered the
                # rate fitted at a fault's first warning: measured on the simulated fleets, the estimate at
                # the first warning came later, further from the truth, on 14 of their 61 failed units
                self._new_trends()
                self.commissioning.close()  # its own trend is read no more
            self.mv.learn_one({k: watched[k] for k in _MV_KEYS if k in watched})
            self.n_learnt += 1
            if snap.rpm:
                self.base_rpm = snap.rpm if self.base_rpm is None else 0.9 * self.base_rpm + 0.1 * snap.rpm
        progress = (f"learning baseline ({self.n_learnt}/{c.warmup})" if learn else
                    f"commissioning paused at {self.n_learnt}/{c.warmup} snapshots: "
                    "a developing fault is not learnt as the unit's normal")
        # with a stated failure limit, that limit alone is the alarm (_absolute): the growth to alarm_ratio a warning
        level = min(found.level, 2) if c.failure_limits else found.level
        a = Assessment(ts=snap.ts, state=_STATES[level], features=feats,
                       scores={"iso_zone": feats["iso_zone"], "commissioning_progress":
                               round(self.n_learnt / c.warmup, 3)},
                       reasons=found.reasons + [progress])
        if found.level >= 1:
            a.failure_mode, a.confidence, a.evidence = found.mode, found.confidence, found.evidence
        if found.level >= 1 or zone in ("C", "D"):
            ttf = self._ttf(excess=True)
            if ttf is not None:
                a.ttf_s, a.ttf_low_s, a.ttf_high_s = ttf
        if self.relearn_note:
            a.reasons.insert(0, self.relearn_note)
        return self._absolute(a, zone, feats)

    def _features(self, snap: Snapshot, fs: float, sp: Spectrum, samples: Samples | None = None) -> dict[str, float]:
        """Features; the envelope band is re-chosen after ``band_recheck`` snapshots that reuse it
        while the unit is healthy, after ``band_recheck_unhealthy`` while it is not (a developing
        fault may move it), and whenever the sample rate changed."""
        reuse = self.config.band_recheck if self.level == 0 else self.config.band_recheck_unhealthy
        keep = self.env_band is not None and self.env_fs == fs and self.band_age < reuse
        # (update_snapshot has checked the snapshot with snapshot_problem, more strictly than the features do)
        feats = snapshot_features(snap, self.machine, band=self.env_band if keep else None, spectrum=sp, checked=True,
                                  samples=samples)
        if keep:
            self.band_age += 1
        elif "env_band_lo_hz" in feats:
            self.env_band, self.env_fs, self.band_age = (feats["env_band_lo_hz"], feats["env_band_hi_hz"]), fs, 0
        return feats

    def _adaptive(self, snap: Snapshot, feats: dict[str, float], watched: dict[str, float], zone: str,
                  sp: Spectrum) -> Assessment:
        c = self.config
        z = self.baseline.scores(watched)
        t2 = self.mv.score_one({k: watched[k] for k in _MV_KEYS if k in watched})
        hi_keys = [k for k in ("rms_g", "velocity_rms_mm_s", "hf") if k in z]
        hi_z = sum(z[k] for k in hi_keys) / max(len(hi_keys), 1)
        if not self.step:  # a level step is no wear: the Page-Hinkley test follows wear only
            self.ph.update(max(min(hi_z, 20.0), -5.0))
        for key, tr in self.trends.items():
            tr.update(snap.ts, feats[key])
        prev_ewma = self.ewma
        self.ewma = c.alpha * t2 + (1 - c.alpha) * self.ewma
        anomalous = self.ewma >= c.watch_log10p
        self.streak = self.streak + 1 if anomalous else 0
        uniform = self._uniform_step(watched) if self.streak == 1 and prev_ewma < c.watch_log10p \
            and t2 >= c.warning_log10p else None
        # health indicator: running median of the RMS over its lowest settled level since commissioning
        self.hi_buf = (self.hi_buf + [feats["rms_g"]])[-c.smooth:]
        hi = _median(self.hi_buf)
        if len(self.hi_buf) == c.smooth:
            self.ref = hi if self.ref is None else min(self.ref, hi)
        ratio = hi / self.ref if self.ref else 1.0
        reasons: list[str] = []
        level = 0
        if self.streak >= c.persistence:
            level = 1
            reasons.append(f"feature vector deviates from baseline: p = 10^-{self.ewma:.1f} for {self.streak} snapshots")
        if self.ph.drift_detected:
            level = 1
            reasons.append("Page-Hinkley: sustained rise of the health indicator")
        for lvl, lim in ((3, c.alarm_ratio), (2, c.warning_ratio), (1, c.watch_ratio)):
            if ratio >= lim:
                # with a stated failure limit, that limit alone is the alarm (_absolute): alarm_ratio a warning
                level = max(level, 2 if lvl == 3 and c.failure_limits else lvl)
                reasons.insert(0, f"RMS {hi:.3g} g is {ratio:.1f}x its reference {self.ref:.3g} g")
                break
        fam = [k for k in ("bpfo_db", "bpfi_db", "bsf_db") if feats.get(k, 0.0) >= c.family_db
               and z.get(k, 0.0) >= c.family_z]
        if fam and level < 2 and self.streak >= c.persistence:
            level = 2
            reasons.insert(0, f"bearing defect lines {', '.join(k[:-3].upper() for k in fam)} stand out "
                              "in the envelope spectrum, well above baseline")
        # shaft faults show in the orders, not in the RMS; counted only when the orders carry most of
        # the velocity and the spectrum resolves them (4 bins per order: real lines, not broadband
        # noise read at 1x, 2x, 3x)
        order_power = sum(feats.get(k, 0.0) ** 2 / 2 for k in _ORDERS)
        df = float(snap.fs) / np.asarray(snap.samples).size
        lines = order_power >= 0.5 * feats["velocity_rms_mm_s"] ** 2 and df <= feats.get("shaft_hz", 0.0) / 4
        grown: dict[int, float] = {}  # the orders grown to a warning, by their ratio: they name the fault
        for k in _ORDERS:
            base = self.baseline.baseline.get(k)
            v = feats.get(k, 0.0)
            buf = self.order_buf[k] = (self.order_buf.get(k, []) + [v])[-c.smooth:]
            if base is None or not lines:
                continue
            healthy = math.exp(base[0])
            if self.streak >= c.persistence and v >= 0.5 * self.iso.limits[0]:
                r = v / healthy
                material = r >= c.warning_ratio or (r >= c.watch_ratio and self.ewma >= c.warning_log10p)
                if material:
                    grown[int(k[1])] = r
                    if level < 2:
                        level = 2
                        reasons.insert(0, f"{k[1]}x shaft-speed velocity {v:.2f} mm/s is {r:.1f}x its baseline")
            # an order that grows slowly moves the whole feature vector little (a gearbox's 2x under its
            # 1x and gear mesh): its own running median at warning_ratio x its baseline is a warning too
            med = _median(buf)
            r_med = med / healthy
            if len(buf) == c.smooth and med >= 0.5 * self.iso.limits[0] and r_med >= c.warning_ratio:
                grown[int(k[1])] = max(grown.get(int(k[1]), 0.0), r_med)
                if level < 2:
                    level = 2
                    reasons.insert(0, f"{k[1]}x shaft-speed velocity {med:.2f} mm/s (median of {c.smooth}) is "
                                      f"{r_med:.1f}x its baseline")
        # a level step that appears at once and does not grow is an operating change, not wear: one the
        # RMS's running median shows at once (it crosses watch_ratio on the step's first snapshot, the T²
        # not yet anomalous before it), or one that makes every band of the spectrum about equally louder
        # at once (the T² anomalous from its first snapshot on: a sensor's gain, a load on the whole
        # machine; a fault raises some bands, not all). Before 2026-11-23 only the first: the running
        # median crosses on a step's third snapshot, when the T² has been anomalous for three, so a
        # simulated sensor gain of 1.5-5x was warned as imbalance, misalignment or lubrication
        if uniform is not None or (ratio >= c.watch_ratio and self.prev_ratio < c.watch_ratio and self.streak <= 1):
            self.step = uniform is not None or (prev_ewma < c.watch_log10p and t2 >= c.warning_log10p)
            self.step_count = 0
            self.step_ts = snap.ts
            self.step_n, self.step_level, self.step_k = 0, None, uniform
            if self.step:
                self.ph.restart()
        if ratio < c.watch_ratio and not anomalous:
            self.step = False
        ttf = self._ttf(excess=True) if level >= 1 else None
        stepped = False  # a level step without a rising trend: watch at most, and no failure mode named
        if self.step and self._stepped_rise(hi) is None:
            stepped = level >= 1 and not fam
            if self.step_k is not None and self.step_n >= c.smooth:
                # the whole spectrum k x at once and steady since: judged against the old baseline, every
                # later change would be read through the step (wear after it named by the 1x the step
                # raised), so the baseline is learnt again at once, as after a settled speed change
                k = self.step_k
                self._rebaseline()
                self.relearn_note = (f"every band of the spectrum {k:.2g}x its baseline at once, and steady since: "
                                     "a changed load or sensor gain (sensitivity setting, cable, mounting); learning "
                                     "the baseline again")
                reasons.append(self.relearn_note)
        if stepped:
            reasons.append("level step without a rising trend: an operating change (a load) or a change of the "
                           "sensor's gain suspected")
            if level >= 2:
                level = 1
                self.step_count += 1
                if self.step_count >= c.rebaseline_after:
                    self._rebaseline()
                    reasons.append("re-learning the baseline at the new operating point")
        elif level >= 2 and self.step:
            self.step_count += 1
        self.prev_ratio = ratio
        if level < self.level:  # come down only after `persistence` calmer snapshots (no flapping)
            self.calm += 1
            if self.calm < c.persistence:
                level = self.level
                reasons.append(f"holding {_STATES[level]} until {c.persistence} calmer snapshots")
            else:
                self.calm = 0
        else:
            self.calm = 0
        self.level = level
        scores = {"t2_log10p": round(t2, 3), "anomaly_ewma": round(self.ewma, 3), "hi_z": round(hi_z, 3),
                  "hi_ratio": round(ratio, 4), "page_hinkley": round(self.ph.score_one({}), 3),
                  "iso_zone": feats["iso_zone"]}
        a = Assessment(ts=snap.ts, state=_STATES[level], features=feats, scores=scores, reasons=reasons)
        if level >= 1 and not stepped:
            mode, conf, ev = explain(feats, z, self.baseline.baseline, has_geometry=self.machine.bearing is not None,
                                     grown=grown)
            if mode in _SHAFT_MODES:
                mode, conf, ev = self._shaft_mode(sp, feats, mode, conf, ev)
            a.failure_mode, a.confidence, a.evidence = mode, conf, ev
            if ttf is not None:
                a.ttf_s, a.ttf_low_s, a.ttf_high_s = ttf
        return self._absolute(a, zone, feats)

    def _stepped_rise(self, hi: float) -> tuple[float, float, float] | None:
        """After a level step: the time to failure of a rise since the step, when the running medians
        of the RMS or of the velocity have also risen 10 % over their lowest since the step (counted
        once they hold only snapshots after it). A trend fitted to the few points after a step finds
        a "significant" rise of 1 % now and then (a simulated fan at a steady 2x gain: 3 of 48
        snapshots); 10 % is the least rise the time to failure counts as a fault's (``ExpTrend.time_to``)."""
        self.step_n += 1
        now = (hi, _median(self.v_buf))
        if self.step_n < self.config.smooth:
            return None
        low = self.step_level = now if self.step_level is None else (min(self.step_level[0], now[0]),
                                                                      min(self.step_level[1], now[1]))
        if now[0] < 1.1 * low[0] and now[1] < 1.1 * low[1]:
            return None
        return self._ttf(since=self.step_ts)

    def _uniform_step(self, watched: dict[str, float]) -> float | None:
        """The factor by which every band of the spectrum stands over (or under) its baseline when all
        stand about equally far from it, at least 1.3x (2.3 dB) either way: each band within 25 % (or 3
        of its robust SD) of their median ratio. None otherwise, or with fewer than 3 bands. A change of
        the whole chain's gain does this, and so does a load on the whole machine; a fault raises the
        bands it excites."""
        base = self.baseline.baseline
        r = [(watched[k] - base[k][0], max(_STEP_SPREAD, 3 * base[k][1]))
             for k in watched if k.startswith("band_") and k in base]
        if len(r) < 3:
            return None
        m = _median([d for d, _ in r])
        if abs(m) < _STEP_LEAST or any(abs(d - m) > tol for d, tol in r):
            return None
        return math.exp(m)

    def _absolute(self, a: Assessment, zone: str, feats: dict[str, float]) -> Assessment:
        """Raise the state to what the ISO zone demands (C → warning, D → alarm); "" = not judged. With a
        stated failure limit (``config.failure_limits``) zone D is a warning and the limit, once reached,
        the alarm."""
        iso_state = _ISO_STATE.get(zone, "healthy")
        if iso_state == "alarm" and self.config.failure_limits:
            iso_state = "warning"
        if HEALTH_ORDER[iso_state] > HEALTH_ORDER[a.state]:
            a.state = iso_state  # type: ignore[assignment]
            v = _median(self.v_buf)
            a.reasons.insert(0, f"velocity {v:.2f} mm/s RMS (median of {len(self.v_buf)}) is in ISO 10816-3 zone {zone}")
            if a.failure_mode is None:
                a.failure_mode, a.confidence = "anomaly", 0.3
        self._failure_alarm(a)
        self.snap_state = a.state
        return self._fused(a)

    def _follow_failure_limits(self, feats: dict[str, float]) -> None:
        """Keep the last ``smooth`` values of each feature a stated failure limit judges, and the trend of
        the snapshot's peak while ``failure_peak_g`` is set (the RMS and velocity are always trended). The
        settings may change while the unit runs: a limit set since starts its values and trend afresh, one
        no longer set drops them."""
        c = self.config
        limits = c.failure_limits
        for key in [k for k in self.fail_buf if k not in limits]:
            del self.fail_buf[key]
        if not limits:
            self.failed = False
        for key in limits:
            self.fail_buf[key] = (self.fail_buf.get(key, []) + [feats[key]])[-c.smooth:]
        if "peak_g" in limits and "peak_g" not in self.trends:
            self.trends["peak_g"] = ExpTrend(c.trend_window, tiers=c.trend_tiers)
        elif "peak_g" not in limits:
            self.trends.pop("peak_g", None)

    def _failure_alarm(self, a: Assessment) -> None:
        """Alarm, with the time to failure 0 s, when a stated failure limit is reached: the running median of
        the last ``smooth`` values of its feature (a single knock is not the machine's level) at or over the
        limit; held until that median falls ``iso_hysteresis`` below it, as the ISO zones are (no flapping
        on the limit)."""
        c = self.config
        reached = []
        for key, limit in c.failure_limits.items():
            buf = self.fail_buf.get(key)
            if not buf:
                continue
            level = _median(buf)
            if level >= limit or (self.failed and level >= limit * (1 - c.iso_hysteresis)):
                what = "peak" if key == "peak_g" else "RMS"
                reached.append(f"{what} {level:.3g} g (median of {len(buf)}) has reached the machine's functional-failure "
                               f"limit failure_{key} = {limit:g} g")
        self.failed = bool(reached)
        if reached:
            a.state = "alarm"
            a.reasons[0:0] = reached
            a.ttf_s = a.ttf_low_s = a.ttf_high_s = 0.0
            if a.failure_mode is None:
                a.failure_mode, a.confidence = "anomaly", 0.3

    def _shaft_mode(self, sp: Spectrum, feats: dict[str, float], mode: str, conf: float,
                    ev: list[dict[str, Any]]) -> tuple[str, float, list[dict[str, Any]]]:
        """Which shaft fault, from the shape of the whole order spectrum (:func:`detectors.shaft.shaft_pattern`).

        :func:`detectors.explain.explain` sees only 1×, 2×, 3× and names the order that grew most;
        looseness raises 2× and 3× as well, and is told apart only by its long train of harmonics
        (and half orders). So: a looseness pattern names looseness whatever order grew most, and a
        ``looseness`` read from 3× alone gives way when the spectrum shows no train. The pattern is
        read on what the fault added to the unit's baseline 1×, 2×, 3× (in quadrature).
        """
        shaft_hz = feats.get("shaft_hz", 0.0)
        if not shaft_hz:
            return mode, conf, ev
        base = self.baseline.baseline
        healthy = {f"{o}x": math.exp(base[f"v{o}x_mm_s"][0]) for o in (1, 2, 3) if f"v{o}x_mm_s" in base}
        # (the orders' evidence lines made only when shown: shaft_pattern's evidence is orders() + [summary])
        pattern, p_conf, orders, p_summary = shaft_pattern_parts(sp, shaft_hz, healthy)
        summary = [p_summary] if p_summary is not None else []
        if pattern == "looseness" and mode != "looseness":
            return "looseness", p_conf, ev + orders() + summary + [
                {"feature": "shaft_pattern", "observed_mode": mode, "meaning": "harmonic train / half orders: looseness"}]
        if mode == "looseness" and pattern in ("misalignment", "imbalance"):
            return pattern, p_conf, ev + orders() + summary + [
                {"feature": "shaft_pattern", "observed_mode": mode, "meaning": "no harmonic train beyond 3x"}]
        if pattern != mode and self.primary.mode is None:
            # the first name sticks (fusion); while the shape does not yet confirm the order that
            # grew, the orders are a deviation without a name
            return "anomaly", 0.3, ev + orders() + summary + [
                {"feature": "shaft_pattern", "observed_mode": mode, "meaning": f"shape of the orders not yet {mode}"}]
        return mode, conf, ev + summary

    def _ttf(self, since: float | None = None, excess: bool = False) -> tuple[float, float, float] | None:
        """(estimate, low, high) until the first indicator with an alarm limit reaches it: the
        earliest estimate, the earliest low and the earliest high over the indicators.

        The limits: the machine's stated functional-failure limits when set (``failure_peak_g`` on the
        trend of the snapshots' peak, ``failure_rms_g`` on the RMS trend), *instead of* the generic ones,
        ``alarm_ratio`` x the RMS reference and ISO zone D of the velocity: the stated level is when the
        unit is taken out of service, and the generic limits, a proxy for it where none is known, lie
        well before it (FEMTO's runs pass them long before their test stops at 20 g). The alarm follows
        the same limits (:meth:`_failure_alarm`). With ``since`` (the check for a rising trend after a
        level step, which decides a warning, not a time) the generic limits are kept.

        ``excess``: also trend the fault's part over the commissioning baseline (added in
        quadrature, :meth:`ExpTrend.time_to`'s ``floor``) for the reported range of the RMS; the check
        for a rising trend after a level step keeps the plain indicator alone. A peak has no such
        floor (peaks do not add in quadrature): its trend is read as it is.
        """
        # while the unit commissions, the RMS is judged against its level at the start of commissioning
        # (as the commissioning check judges it), and that level is the healthy floor
        ref = self.ref if self.baseline.ready else self.commissioning.ref
        stated = self.config.failure_limits if since is None else {}
        if stated:
            limits = dict(stated)
        else:
            limits = {"velocity_rms_mm_s": self.iso.limits[2]}
            if ref:
                limits["rms_g"] = ref * self.config.alarm_ratio
        floors: dict[str, float] = {}
        if excess and self.baseline.ready:
            floors = {k: math.exp(self.baseline.baseline[k][0]) for k in limits if k in self.baseline.baseline}
        elif excess and ref:
            floors = {"rms_g": ref}
        best = None
        for key, lim in limits.items():
            if key not in self.trends:  # the peak's trend, while the settings change under a running unit
                continue
            est = self.trends[key].time_to(lim, since, floor=floors.get(key))
            if est is not None:
                # the alarm comes with the first indicator to reach its limit: the earliest of each bound
                best = est if best is None else (min(best[0], est[0]), min(best[1], est[1]), min(best[2], est[2]))
        return best

    def _top_defect_hz(self, snap: Snapshot) -> float | None:
        """Highest envelope line searched (3.5 × the larger of BPFI and 2×BSF), when known."""
        rpm = snap.rpm or self.machine.rated_rpm
        if self.machine.bearing is None or not rpm:
            return None
        m = self.machine.bearing.multipliers()
        return 3.5 * max(m["bpfi"], 2 * m["bsf"]) * rpm / 60

    def _transient(self, snap: Snapshot, feats: dict[str, float]) -> str | None:
        rated = self.machine.rated_rpm
        if snap.rpm is not None and rated and snap.rpm < 0.1 * rated:
            return f"machine stopped ({snap.rpm:.0f} rpm): not assessed"
        base = self.baseline.baseline.get("rms_g")
        if base is not None and feats["rms_g"] < math.exp(base[0]) * self.config.stopped_ratio:
            return f"vibration {feats['rms_g']:.3g} g is far below the running baseline: machine stopped or idle"
        ref = self.base_rpm or (rated if snap.rpm is not None else None)
        if snap.rpm is None or not ref or abs(snap.rpm / ref - 1) <= self.config.speed_tolerance:
            self.away_rpm, self.away_n = None, 0
            return None
        if self._settled_away(snap.rpm):
            # the unit now runs steadily at another speed: a changed operating point (or a rated
            # speed that was never its speed), not a transient; assess it at this speed again
            self.relearn_note = (f"speed settled at {snap.rpm:.0f} rpm, away from the baseline's {ref:.0f} rpm: "
                                 "re-learning the baseline at this speed" if self.base_rpm else
                                 f"the unit runs steadily at {snap.rpm:.0f} rpm, not the model's rated {ref:.0f} rpm: "
                                 "learning the baseline at this speed")
            self._rebaseline()
            self.base_rpm = None
            return None
        return f"speed {snap.rpm:.0f} rpm is away from the {'baseline' if self.base_rpm else 'rated'} " \
               f"{ref:.0f} rpm: start-up or speed change"

    def _settled_away(self, rpm: float) -> bool:
        """Count consecutive snapshots at one steady speed away from the reference (within a
        quarter of ``speed_tolerance`` of each other: a ramp does not settle); True once they
        are ``persistence`` snapshots while commissioning (the rated speed may simply not be the
        unit's), or ``rebaseline_after`` once a baseline exists."""
        c = self.config
        if self.away_rpm is not None and abs(rpm / self.away_rpm - 1) <= c.speed_tolerance / 4:
            self.away_n += 1
            self.away_rpm = 0.8 * self.away_rpm + 0.2 * rpm
        else:
            self.away_rpm, self.away_n = rpm, 1
        if self.away_n >= (c.rebaseline_after if self.baseline.ready else c.persistence):
            self.away_rpm, self.away_n = None, 0
            return True
        return False

    def _held(self, ts: float, reason: str, feats: dict[str, float]) -> Assessment:
        # the last *assessed* state: a snapshot that could not be assessed (unknown) judged no machine
        a = Assessment(ts=ts, state=self.snap_state, features=feats,  # type: ignore[arg-type]
                       reasons=[reason + "; last assessed state held"])
        if self.last is not None and HEALTH_ORDER[self.snap_state] > 0:
            a.failure_mode, a.confidence = self.last.failure_mode, self.last.confidence
        return self._fused(a, remember=False)

    def _unknown(self, ts: float, reason: str) -> Assessment:
        return Assessment(ts=ts, state="unknown", reasons=[reason])

    def _new_baselines(self) -> None:
        """Fresh commissioning baselines; a long commissioning keeps ``BASELINE_POINTS`` snapshots,
        evenly spread, so the state stays bounded whatever ``warmup`` a model sets; and a fresh
        check of the commissioning itself."""
        c = self.config
        before: CommissioningCheck | None = getattr(self, "commissioning", None)
        self.commissioning = CommissioningCheck(
            smooth=c.smooth, persistence=c.persistence, watch_ratio=c.watch_ratio, warning_ratio=c.warning_ratio,
            alarm_ratio=c.alarm_ratio, family_db=c.family_db, trend_window=c.trend_window)
        if before is not None:  # lines a person accepted stay accepted when the baseline is learnt again
            self.commissioning.carry_accepted(before)
        self.baseline = RobustZScore(warmup=c.warmup, min_scale=0.0, min_abs_scale=c.min_z_scale,
                                     max_points=BASELINE_POINTS)
        self.mv = Mahalanobis(warmup=max(c.warmup, 8), max_rows=BASELINE_POINTS)

    def relearn(self, note: str, *, accept_current: bool = False) -> None:
        """Start a fresh commissioning, as asked by a person (after a repair: a new bearing, a realignment):
        everything learnt is forgotten (baselines, trends, the failure mode, the scalar baselines) but the
        machine, the configuration and the axis followed; ``note`` is the first reason of the assessments
        until the baseline is learnt. ``accept_current``: the defect lines the unit shows now are its normal
        (:meth:`detectors.commissioning.CommissioningCheck.accept`); without it, lines accepted before are
        not accepted any more."""
        axis = self.axis
        self.commissioning = None  # type: ignore[assignment]  # a fresh check: nothing accepted is carried
        self._reset()
        self.axis, self.relearn_note = axis, note
        if accept_current:
            self.commissioning.accept()

    def _new_trends(self) -> None:
        """Fresh time-to-failure trends (their window and tiers) of the health indicators, and of the
        snapshots' peak while ``failure_peak_g`` is set (only then: about 1-5 KB of state)."""
        c = self.config
        keys = ("rms_g", "velocity_rms_mm_s") + (("peak_g",) if c.failure_peak_g is not None else ())
        self.trends = {k: ExpTrend(c.trend_window, tiers=c.trend_tiers) for k in keys}

    def _rebaseline(self) -> None:
        """A new operating point (a settled speed change, a level step that stays): the baselines are
        learnt again, and the trends start afresh too: levels measured at the old operating point
        are no part of a trend at the new one (a tier spans up to 64 x 48 snapshots, and read across
        the step it showed a rise that is none)."""
        c = self.config
        self._new_baselines()
        self._new_trends()
        self.ph = PageHinkley(delta=c.ph_delta, threshold=c.ph_threshold, mean=0.0, cap=PH_CAP)
        self.n_learnt, self.ewma, self.streak, self.step, self.step_k = 0, 0.0, 0, False, None
        self.hi_buf, self.ref, self.prev_ratio, self.level, self.calm = [], None, 1.0, 0, 0
        self.order_buf = {}

    def _fused(self, a: Assessment, remember: bool = True) -> Assessment:
        if HEALTH_ORDER[self.scalar_state] > HEALTH_ORDER[a.state]:
            a.state = self.scalar_state  # type: ignore[assignment]
            a.reasons.append("scalar telemetry deviates from its baseline")
            named_by_scalars = a.failure_mode is None and self.scalar_mode is not None
            if named_by_scalars:
                a.failure_mode = self.scalar_mode
        else:
            named_by_scalars = False
        self._primary(a, snapshot=remember, from_scalars=named_by_scalars or None)
        if self.primary.suppressed:
            self.snap_state = "healthy"  # an unnamed watch held back: telemetry in between is not raised by it
        if remember:
            self.last = a
        return a

    def _primary(self, a: Assessment, *, snapshot: bool, from_scalars: bool | None = None) -> Assessment:
        """One failure mode per unit at a time (:mod:`detectors.fusion`), thresholds from ``self.config``."""
        c = self.config
        self.primary.hold, self.primary.memory_s, self.primary.wait = c.mode_hold, c.mode_memory_s, c.name_wait
        self.primary.parts_known = self.machine.bearing is not None
        return self.primary.update(a, snapshot=snapshot, from_scalars=from_scalars)

    # ------------------------------------------------------------------ scalar telemetry
    def update_scalars(self, ts: float, values: dict[str, float]) -> Assessment | None:
        """Feed scalar telemetry; returns the fused assessment, or None if no value was usable.

        ``values`` maps names to numbers; values that are not finite numbers (and names that are
        not strings) are left out. A timestamp that is not a finite number, or ``values`` that is
        not a mapping, gives ``unknown`` with the reason; nothing is learnt from it.
        """
        if not _real(ts) or not math.isfinite(ts):
            return self._unknown(ts, f"cannot assess: timestamp {ts!r} is not a finite number of seconds")
        if not isinstance(values, Mapping):
            return self._unknown(ts, f"cannot assess: scalar values must be a mapping of names to numbers, "
                                     f"got {type(values).__name__}")
        found = self.scalars.update(ts, values)
        if found is None:
            return None
        level, a = found
        self.scalar_state = _STATES[level]
        self.scalar_mode = a.failure_mode if level >= 1 else None
        if self.scalar_mode == "lubrication" and self.primary.mode == "lubrication":
            self.primary.heat = True  # the temperature confirms a lubrication loss first read from vibration
        base = self.snap_state if self.last is not None else "healthy"
        a.state = max(base, self.scalar_state, key=HEALTH_ORDER.__getitem__)  # type: ignore[assignment,arg-type]
        last = self.last
        if level >= 1 and HEALTH_ORDER[self.snap_state] >= 1 and last is not None and last.failure_mode:
            # a temperature rise beside a vibration fault is evidence for that fault, not a second mode
            a.evidence.append({"feature": "fusion", "observed_mode": a.failure_mode,
                               "meaning": "scalar rise while the waveforms show a fault"})
            a.failure_mode, a.confidence = last.failure_mode, last.confidence
            a.evidence = a.evidence + last.evidence
        elif a.failure_mode is None and HEALTH_ORDER[a.state] >= 1 and last is not None:
            a.failure_mode, a.confidence = last.failure_mode, last.confidence  # the waveform's fault
            a.evidence = a.evidence + last.evidence
        if last is not None:
            _carry_snapshot(a, last, vibration_rules=HEALTH_ORDER[base] >= max(1, HEALTH_ORDER[self.scalar_state]))
        return self._fused(a, remember=False)

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict:
        """JSON-serialisable state (bounded: a few KB, well under 64 KB; with the most scalar series and a
        commissioning of 64 snapshots or more, under 64 KB: ``tests/detectors/test_state_size.py``)."""
        trends = {k: t.state_dict() for k, t in self.trends.items()}
        commissioning = self.commissioning.state_dict()
        # while the unit commissions, the check's trend holds the points of the RMS trend (both fed every
        # snapshot learnt from the start): saved once
        mine, rms = commissioning["trend"], trends.get("rms_g", {})
        if mine.get("points") and mine["points"] == rms.get("points"):
            commissioning["trend"] = {**{k: v for k, v in mine.items() if k != "points"}, "points_of": "rms_g"}
        shared = _share_trend_times(trends)
        return {
            "version": 2, "config": self.config.as_dict(),
            "baseline": self.baseline.state_dict(),
            # the T² rows are commissioning points the baseline keeps too (same snapshots, same stride): not twice
            "mv": self.mv.state_dict(columns=self.baseline.points), "iso": self.iso.state_dict(),
            "ph": self.ph.state_dict(), "trends": trends, **({"trend_times": shared} if shared else {}),
            "scalars": self.scalars.state_dict(),
            "n_learnt": self.n_learnt, "ewma": self.ewma, "streak": self.streak, "step": self.step,
            "step_count": self.step_count, "step_ts": self.step_ts, "step_n": self.step_n, "step_level": self.step_level, "step_k": self.step_k, "base_rpm": self.base_rpm, "prev_fp": self.prev_fp,
            "away_rpm": self.away_rpm, "away_n": self.away_n, "relearn_note": self.relearn_note,
            "hi_buf": self.hi_buf, "v_buf": self.v_buf, "order_buf": self.order_buf, "ref": self.ref, "prev_ratio": self.prev_ratio, "level": self.level, "calm": self.calm,
            "snap_state": self.snap_state, "scalar_state": self.scalar_state,
            "scalar_mode": self.scalar_mode, "primary": self.primary.state_dict(),
            "env_band": self.env_band, "env_fs": self.env_fs, "band_age": self.band_age, "axis": self.axis,
            "last": _last_state(self.last), "commissioning": commissioning,
            # only while a failure limit is stated: a unit without one saves what it saved before
            **({"failure": {"buf": self.fail_buf, "reached": self.failed}} if self.fail_buf or self.failed else {}),
        }

    @classmethod
    def from_state(cls, state: dict, machine: MachineInfo | None = None) -> UnitMonitor:
        """Restore a monitor saved by :meth:`state_dict` (version 1 states start afresh).

        A state that is not one :meth:`state_dict` wrote (not a dict, a part missing or of the
        wrong type: a corrupted row, a hand edit) raises ``ValueError`` saying what is wrong;
        nothing half-restored is returned.
        """
        if not isinstance(state, dict):
            raise ValueError(f"cannot restore the monitor: its state must be a dict, got {type(state).__name__}")
        if state.get("version") != 2:
            return cls(machine)
        try:
            return cls._restore(state, machine)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            what = f"{exc.args[0]!r} is missing" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"cannot restore the monitor: its state is corrupted ({what})") from None

    @classmethod
    def _restore(cls, state: dict, machine: MachineInfo | None) -> UnitMonitor:
        def number(key: str, *, whole: bool = False, optional: bool = False) -> None:
            v = state[key]
            ok = (v is None and optional) or (_real(v) and math.isfinite(v) and (not whole or float(v).is_integer()))
            if not ok:
                raise ValueError(f"{key} must be a {'whole ' if whole else ''}number, got {v!r}")

        def numbers_list(key: str, *, optional: bool = False) -> None:
            v = state[key]
            if not ((v is None and optional) or (isinstance(v, list) and all(_real(x) for x in v))):
                raise ValueError(f"{key} must be a list of numbers, got {v!r}")

        for key in ("n_learnt", "streak", "step_count", "level", "calm"):
            number(key, whole=True)
        for key in ("ewma", "step_ts", "prev_ratio"):
            number(key)
        for key in ("base_rpm", "ref"):
            number(key, optional=True)
        numbers_list("hi_buf")
        numbers_list("v_buf")
        numbers_list("prev_fp", optional=True)
        for key in ("snap_state", "scalar_state"):
            if state[key] not in _STATES:
                raise ValueError(f"{key} must be one of {', '.join(_STATES)}, got {state[key]!r}")
        if not isinstance(state["config"], dict):
            raise ValueError(f"config must be a dict, got {state['config']!r}")
        mon = cls(machine, **state["config"])
        mon.baseline = RobustZScore.from_state(state["baseline"])
        mon.mv = Mahalanobis.from_state(state["mv"], columns=mon.baseline.points)
        if "trend_times" in state:  # the trends' shared times, saved once (since 2026-11-22)
            state = {**state, "trends": _unshare_trend_times(state["trends"], state["trend_times"])}
        if "commissioning" in state:  # not in states saved before it existed: a fresh check
            saved = state["commissioning"]
            of = saved.get("trend", {}).get("points_of") if isinstance(saved, dict) else None
            if of is not None:  # the points of a monitor trend (state_dict)
                if of not in state["trends"] or "points" not in state["trends"][of]:
                    raise ValueError(f"commissioning.trend: saved as the points of the trend {of!r}, which has none")
                trend = {k: v for k, v in saved["trend"].items() if k != "points_of"}
                saved = {**saved, "trend": {**trend, "points": state["trends"][of]["points"]}}
            mon.commissioning.load(saved)
        mon.iso = IsoZoneDetector.from_state(state["iso"])
        mon.ph = PageHinkley.from_state({**state["ph"], "cap": PH_CAP})  # saved before 2026-11-23: no cap
        mon.trends = {k: ExpTrend.from_state(t, tiers=mon.config.trend_tiers) for k, t in state["trends"].items()}
        mon.scalars = ScalarPanel.from_state(mon.config, state["scalars"])
        for key in ("n_learnt", "ewma", "streak", "step", "step_count", "step_ts", "base_rpm", "prev_fp", "hi_buf", "v_buf", "ref", "prev_ratio", "level", "calm",
                    "snap_state", "scalar_state"):
            setattr(mon, key, state[key])
        # added after version 2 was first saved: an older state starts with no primary mode
        mon.scalar_mode = state.get("scalar_mode")
        # since 2026-11-23: how long a level step has lasted, and its lowest levels
        mon.step_n = int(state.get("step_n", 0))
        level = state.get("step_level")
        if level is not None and not (isinstance(level, list) and len(level) == 2 and all(_real(x) for x in level)):
            raise ValueError(f"step_level must be null or two numbers, got {level!r}")
        mon.step_level = None if level is None else (float(level[0]), float(level[1]))
        k = state.get("step_k")
        if k is not None and not (_real(k) and math.isfinite(k) and k > 0):
            raise ValueError(f"step_k must be null or a positive number, got {k!r}")
        mon.step_k = None if k is None else float(k)
        mon.away_rpm, mon.away_n = state.get("away_rpm"), int(state.get("away_n", 0))
        mon.relearn_note = state.get("relearn_note")
        # not in states saved before the orders' own medians were judged: they start empty
        order_buf = state.get("order_buf", {})
        if not isinstance(order_buf, dict) or not all(
                k in _ORDERS and isinstance(v, list) and all(_real(x) for x in v)
                for k, v in order_buf.items()):
            raise ValueError(f"order_buf must map v1x_mm_s, v2x_mm_s, v3x_mm_s to lists of numbers, got {order_buf!r}")
        mon.order_buf = {k: [float(x) for x in v][-mon.config.smooth:] for k, v in order_buf.items()}
        mon.axis = state.get("axis")  # None in states saved before axes were told apart: the next one sent
        band = state.get("env_band")
        mon.env_band = (float(band[0]), float(band[1])) if band else None
        mon.env_fs, mon.band_age = float(state.get("env_fs", 0.0)), int(state.get("band_age", 0))
        if "primary" in state:
            mon.primary = PrimaryMode.from_state(state["primary"])
        # the last snapshot's conclusion, which scalar telemetry carries until the next snapshot: without
        # it a restarted unit's telemetry read the waveforms as healthy (a warning cleared, then raised
        # again at the next snapshot; a unit stopped after its failure stayed "healthy"). Not in states
        # saved before it was kept: as before, until the next snapshot.
        mon.last = _last_restored(state.get("last"))
        failure = state.get("failure", {"buf": {}, "reached": False})  # not saved without a stated failure limit
        if not (isinstance(failure, dict) and isinstance(failure.get("buf"), dict) and isinstance(failure.get("reached"), bool)
                and all(k in ("peak_g", "rms_g") and isinstance(v, list) and all(_real(x) for x in v)
                        for k, v in failure["buf"].items())):
            raise ValueError(f"failure must hold buf (peak_g, rms_g: lists of numbers) and reached (true or false), "
                             f"got {str(failure)[:80]!r}")
        mon.fail_buf = {k: [float(x) for x in v][-mon.config.smooth:] for k, v in failure["buf"].items()}
        mon.failed = failure["reached"]
        return mon
