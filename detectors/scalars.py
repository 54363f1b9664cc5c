"""Adaptive detection on scalar telemetry series (e.g. a temperature, a mean |acceleration|).

Per key, two detectors:

- :class:`detectors.scalars_longcycle.LongCycleAnomaly`: :class:`detectors.scalar.ScalarAnomaly`, the one
  measured on NAB, plus the phase novelty of cycles longer than its history sees (a day of values a
  minute: on NAB, which has none, the two score the same): every value's anomaly score is
  in the assessment's ``scores`` (``anomaly_<key>``), and a value or sequence the series' history
  does not hold (after commissioning) is noted in the reasons and evidence. It does not change the
  health state: on simulated healthy units (daily ambient cycle, load changes, stops) it flagged
  about one value per unit-day, which as alerts would bury a service team;
- :class:`ScalarTrack`, for health indicators that rise as a machine degrades: (median / MAD, of the log when the series is positive) over
``warmup_s`` seconds of the series' own time (a day by default, so a daily cycle is part of
"normal"), sampled into at most ``points`` values whatever the reporting rate; then the robust
z-score of each new value, an EWMA of it, a Page-Hinkley test for a sustained rise and an
exponential trend for time to failure. The state is bounded (fixed windows) and serialisable.

>>> tr = ScalarTrack(warmup_s=6 * 3600, points=24)
>>> for i in range(60):
...     _ = tr.update(i * 600.0, 1.0 + 0.01 * (i % 3))
>>> tr.level
0
>>> levels = [tr.update((60 + i) * 600.0, 1.0 * 1.08 ** i) for i in range(30)]
>>> max(levels) >= 2
True
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from detectors.pagehinkley import PageHinkley
from detectors.prognosis import ExpTrend
from detectors.scalars_longcycle import LongCycleAnomaly
from detectors.statepack import pack_floats, pack_times, pack_times_each, unpack_floats, unpack_times
from detectors.types import Assessment
from detectors.zscore import RobustZScore

if TYPE_CHECKING:
    from detectors.config import MonitorConfig

__all__ = ["ScalarPanel", "ScalarTrack"]


class ScalarTrack:
    """Level 0 (healthy), 1 (watch), 2 (warning) for one scalar series, with hysteresis."""

    def __init__(self, warmup_s: float = 86400.0, points: int = 96, watch_z: float = 6.0, warning_z: float = 10.0,
                 alpha: float = 0.3, persistence: int = 3, ph_delta: float = 1.0, ph_threshold: float = 40.0) -> None:
        if warmup_s <= 0 or points < 8:
            raise ValueError(f"need warmup_s > 0 and points >= 8, got {warmup_s}, {points}")
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        if not 0 < watch_z < warning_z:
            raise ValueError(f"need 0 < watch_z < warning_z, got {watch_z}, {warning_z}")
        if persistence < 1:
            raise ValueError(f"persistence must be >= 1, got {persistence}")
        self.warmup_s, self.points = float(warmup_s), int(points)
        self.watch_z, self.warning_z, self.alpha = watch_z, warning_z, alpha
        self.persistence = persistence
        self.baseline = RobustZScore(warmup=points, min_scale=0.0, min_abs_scale=0.01)
        self.ph = PageHinkley(delta=ph_delta, threshold=ph_threshold, mean=0.0)
        self.trend = ExpTrend()
        self._reset()

    def _reset(self) -> None:
        self.log: bool | None = None
        self.ewma = 0.0
        self.z = 0.0
        self.streak = 0
        self.level = 0
        self.t0: float | None = None
        self.last_kept = -math.inf
        self.recent: list[float] = []
        self.spike = False
        self.high = False  # the last value stood far above the recent ones (left out as a spike, or kept)

    def _tx(self, v: float) -> float:
        return math.log(v) if self.log else v

    def update(self, ts: float, value: float) -> int:
        """Feed one value; returns the level. Non-finite values are ignored."""
        if not math.isfinite(value):
            return self.level
        if self.t0 is None:
            self.t0 = ts
        if not self.baseline.ready and ts - self.t0 >= self.warmup_s:
            self.baseline.finalize()
        if not self.baseline.ready:
            if ts < self.last_kept + self.warmup_s / self.points:
                return 0
            self.last_kept = ts
            if self.log is None:
                self.log = value > 0
            elif self.log and value <= 0:
                self.log = False
                buf = self.baseline._buffer.get("v")
                if buf is not None:
                    self.baseline._buffer["v"] = type(buf)((math.exp(b) for b in buf), maxlen=buf.maxlen)
            self.baseline.learn_one({"v": self._tx(value)})
            return 0
        if self.log and value <= 0:
            return self.level
        # an isolated jump far above the recent values is a spike (a sensor fault, flagged, left
        # out); a value after a high one is kept, whether that one was left out or kept: after a stop
        # the recent values are the stopped machine's, and a unit running high (a fault) would have
        # every other running value flagged until three had filled the median. A running median of 5
        # and a clipped z keep any value that slips through from carrying the EWMA on its own
        raw_z = self.baseline.scores({"v": self._tx(value)}).get("v", 0.0)
        if self.recent:
            ref_z = self.baseline.scores({"v": self._tx(sorted(self.recent)[len(self.recent) // 2])}).get("v", 0.0)
            high = raw_z > self.warning_z and raw_z - ref_z > self.warning_z
            was_high, self.high = self.high, high
            if high and not was_high:  # isolated: left out
                self.spike = True
                return self.level
        self.spike = False
        self.recent = ([*self.recent, value])[-5:]
        filtered = sorted(self.recent)[len(self.recent) // 2]
        self.z = self.baseline.scores({"v": self._tx(filtered)}).get("v", 0.0)
        clipped = max(min(self.z, 2 * self.warning_z), -5.0)
        self.ewma = self.alpha * clipped + (1 - self.alpha) * self.ewma
        self.ph.update(max(min(self.z, 20.0), -5.0))
        if filtered > 0:
            self.trend.update(ts, filtered)
        self.streak = self.streak + 1 if self.ewma >= self.watch_z else 0
        if self.ewma >= self.warning_z and self.streak >= self.persistence:
            self.level = 2
        elif self.streak >= self.persistence or (self.ph.drift_detected and self.ewma >= self.watch_z / 2):
            # a sustained rise (Page-Hinkley) counts once it is also material: half the watch level
            self.level = max(self.level, 1)
        elif self.ewma < self.watch_z / 2:
            self.level = 0
        return self.level

    @property
    def baseline_value(self) -> float | None:
        base = self.baseline.baseline.get("v")
        if base is None:
            return None
        return math.exp(base[0]) if self.log else base[0]

    def state_dict(self, times_saved: bool = False, packed_times: dict | str | None = None) -> dict:
        """The state as JSON-able data. ``times_saved``: the panel saves the times of this track's trend
        points (once for the tracks that share them): the trend keeps its values only. Else the trend's
        times are saved apart from its values, as :func:`detectors.statepack.pack_times` packs them (a
        unit's times are whole milliseconds: 2.7 characters a time instead of 10.7; since 2026-11-24), or
        as ``packed_times`` (the panel's packing of them, with the other tracks')."""
        trend = self.trend.state_dict()
        if "points" in trend:
            del trend["points"]
            times, values = zip(*self.trend.points) if self.trend.points else ((), ())
            trend["values"] = pack_floats(values)
            if not times_saved:
                trend["times"] = pack_times(times) if packed_times is None else packed_times
        return {"cfg": [self.warmup_s, self.points, self.watch_z, self.warning_z, self.alpha, self.persistence,
                        self.ph.delta, self.ph.threshold],
                "t0": self.t0, "recent": pack_floats(self.recent), "last_kept": self.last_kept if math.isfinite(self.last_kept) else None,
                "log": self.log, "ewma": self.ewma, "z": self.z, "streak": self.streak, "level": self.level,
                **({"high": True} if self.high else {}),  # (since 2026-11-22; saved only when set)
                # the baseline's and the test's settings follow from cfg (from_state): not saved again (1.7 KB
                # of 16 series)
                "baseline": {k: v for k, v in self.baseline.state_dict().items() if k not in _BASELINE_SETTINGS},
                "ph": {k: v for k, v in self.ph.state_dict().items() if k not in ("delta", "threshold")},
                "trend": trend}

    @classmethod
    def from_state(cls, state: dict, times: list[float] | None = None) -> ScalarTrack:
        """The track :meth:`state_dict` saved; ``times``: the shared trend times, for a trend saved without
        its own (raises ValueError when they are not given, or not as many as its values; or when a trend's
        own times are not as many as its values)."""
        tr = cls(*state["cfg"])
        tr.log, tr.ewma, tr.z = state["log"], state["ewma"], state["z"]
        tr.t0, tr.recent = state["t0"], unpack_floats(state["recent"])  # (a list before 2026-11-22)
        tr.last_kept = -math.inf if state["last_kept"] is None else state["last_kept"]
        tr.streak, tr.level = state["streak"], state["level"]
        tr.high = state.get("high", False) is True
        # (states saved before 2026-11-22 have the settings: theirs are read)
        settings = {k: v for k, v in tr.baseline.state_dict().items() if k in _BASELINE_SETTINGS}
        tr.baseline = RobustZScore.from_state({**settings, **state["baseline"]})
        tr.ph = PageHinkley.from_state({"delta": tr.ph.delta, "threshold": tr.ph.threshold, **state["ph"]})
        trend = state["trend"]
        if "values" in trend and "times" in trend:  # its own times, apart (since 2026-11-24)
            values, own = unpack_floats(trend["values"]), unpack_times(trend["times"])
            if len(own) != len(values):
                raise ValueError(f"scalar trend: {len(values)} values saved with {len(own)} times of its own")
            trend = {k: v for k, v in trend.items() if k not in ("values", "times")}
            trend["points"] = list(zip(own, values))
        elif "values" in trend:  # saved with the panel's shared times
            values = unpack_floats(trend["values"])
            if times is None or len(times) != len(values):
                raise ValueError(f"scalar trend: {len(values)} values saved for the panel's shared times, "
                                 f"which are {'missing' if times is None else f'{len(times)}'}")
            trend = {k: v for k, v in trend.items() if k != "values"}
            trend["points"] = list(zip(times, values))  # (pairs: the trend's own form before it packed them)
        tr.trend = ExpTrend.from_state(trend)
        return tr


_BASELINE_SETTINGS = ("warmup", "min_scale", "min_abs_scale", "max_points")  # a track's baseline's, from its cfg

# the live engine's anomaly detector (bench/scalar_notes_fleet.py --detector replaces it): ScalarAnomaly with the
# long-cycle phase (since 2026-11-23; a ScalarAnomaly state saved before loads, its long history empty)
PanelAnomaly = LongCycleAnomaly


def _mode_of(key: str) -> str:
    """What a scalar's rise points to: bearing temperature → lubrication, vibration → bearing."""
    if "temperature" in key:
        return "lubrication"
    if key.endswith("_g") or "accel" in key or "vib" in key:
        return "bearing"
    return "anomaly"


class ScalarPanel:
    """All scalar tracks of one unit (at most ``max_scalar_keys``), fed record by record."""

    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        self.tracks: dict[str, ScalarTrack] = {}
        self.anomaly = PanelAnomaly()  # one channel per key

    def health_values(self, values: dict[str, float]) -> dict[str, float]:
        """Drop the context keys; a temperature becomes its rise over ambient when both are sent."""
        out: dict[str, float] = {}
        ambient = values.get("ambient_c")
        for key, v in values.items():
            if not isinstance(key, str) or key in self.config.context_keys:  # a name that is not text: unusable
                continue
            if key.endswith("temperature_c") and isinstance(ambient, (int, float)) and isinstance(v, (int, float)):
                out[key[: -len("_c")] + "_rise_k"] = float(v) - float(ambient)
            else:
                out[key] = v
        return out

    def update(self, ts: float, values: dict[str, float]) -> tuple[int, Assessment] | None:
        """(level over all tracks, assessment of the scalars) or None if no value was usable."""
        c = self.config
        used: list[str] = []
        untracked: list[str] = []
        anomalies: dict[str, float] = {}
        for key, v in self.health_values(values).items():
            try:
                v = float(v)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(v):
                continue
            tr = self.tracks.get(key)
            if tr is None:
                if len(self.tracks) >= c.max_scalar_keys:
                    untracked.append(key)
                    continue
                tr = self.tracks[key] = ScalarTrack(warmup_s=c.scalar_warmup_s, points=c.scalar_points)
            tr.update(ts, v)
            used.append(key)
            if not tr.spike and self._scored(key):  # a spike is the sensor's (flagged below), not the series'
                anomalies[key] = self._novelty(key, v)
        if not used:
            return None
        level = max(tr.level for tr in self.tracks.values())
        a = Assessment(ts=ts, state="healthy", scores={f"z_{k}": round(self.tracks[k].z, 3) for k in used})
        a.scores.update({f"anomaly_{k}": round(s, 4) for k, s in anomalies.items()})
        spiked = [k for k in used if self.tracks[k].spike]
        if spiked:
            a.sensor_fault = "spikes"
            a.reasons.append(f"isolated spike in {', '.join(spiked)} ignored (sensor fault)")
        learning = [k for k in used if not self.tracks[k].baseline.ready]
        if learning:
            a.reasons.append(f"learning baseline of {', '.join(sorted(learning))}")
        if untracked:  # stored, but not assessed: said, so that a value that matters is not ignored unnoticed
            a.reasons.append(f"note: {', '.join(sorted(untracked))} not assessed: this unit's first "
                             f"{c.max_scalar_keys} value names are (max_scalar_keys)")
        for key, score in anomalies.items():
            if score >= self.anomaly.alert_level and self.tracks[key].baseline.ready:
                a.reasons.append(f"note: {key} behaves unusually (anomaly score {score:.3f}): a value or sequence "
                                 "its history does not hold")
                a.evidence.append({"feature": key, "anomaly_score": round(score, 4),
                                   "meaning": "novel value or sequence (a note: it does not change the state)"})
        if level >= 1:
            key = max(self.tracks, key=lambda k: (self.tracks[k].level, self.tracks[k].ewma))
            tr = self.tracks[key]
            a.reasons.insert(0, f"{key} is {tr.ewma:.1f} robust SD above its baseline {tr.baseline_value:.4g}")
            a.failure_mode, a.confidence = _mode_of(key), 0.4
            a.evidence.append({"feature": key, "z": round(tr.z, 2), "ewma_z": round(tr.ewma, 2),
                               "baseline": tr.baseline_value, "page_hinkley": round(tr.ph.score_one({}), 2)})
            base = tr.baseline_value
            if base and base > 0:
                est = tr.trend.time_to(base * c.alarm_ratio)
                if est is not None:
                    a.ttf_s, a.ttf_low_s, a.ttf_high_s = est
        return level, a

    def _scored(self, key: str) -> bool:
        """Whether ``key`` is one of the (at most ``max_anomaly_keys``) series the anomaly detector
        follows: the first ones the unit sent (its state is 2-5 KB per series)."""
        chans = self.anomaly._channels
        return key in chans or len(chans) < self.config.max_anomaly_keys

    def _novelty(self, key: str, v: float) -> float:
        """The anomaly detector's score of ``v`` (scored before it is learnt)."""
        return self.anomaly.score_learn_one({key: v})

    def state_dict(self) -> dict:
        # a unit sends its values together, in one record: the tracks' trends then hold the same times, saved
        # once (``trend_times``; of the state of 16 series 7.7 KB as floats, 2.6 KB as milliseconds), the
        # values in each track
        times = {k: [t for t, _ in tr.trend.points] for k, tr in self.tracks.items() if tr.trend.points}
        seen = list(times.values())
        shared = max(seen, key=seen.count) if seen else None
        if shared is not None and 0.0 in shared:
            shared = None  # (equal as numbers, 0.0 and -0.0 are not bit for bit: no times at 0 are shared)
        # (NaN, never a time here, is equal to nothing: such times are not shared)
        own = [k for k, t in times.items() if shared is None or t != shared]
        packed = dict(zip(own + ["(shared)"], pack_times_each([times[k] for k in own] + [shared or []]), strict=True))
        state = {"tracks": {k: t.state_dict(times_saved=shared is not None and times.get(k) == shared,
                                            packed_times=packed.get(k))
                            for k, t in self.tracks.items()},
                 "anomaly": self.anomaly.state_dict()}
        if shared is not None:
            state["trend_times"] = packed["(shared)"]  # (as floats, pack_floats, before 2026-11-24)
        return state

    @classmethod
    def from_state(cls, config: MonitorConfig, state: dict) -> ScalarPanel:
        panel = cls(config)
        if "tracks" not in state:  # saved before the anomaly detector joined: tracks only
            state = {"tracks": state}
        # (no shared times in states saved before they were: every trend has its own)
        times = unpack_times(state["trend_times"]) if "trend_times" in state else None
        panel.tracks = {k: ScalarTrack.from_state(t, times) for k, t in state["tracks"].items()}
        if "anomaly" in state:
            panel.anomaly = PanelAnomaly.from_state(state["anomaly"])
        return panel
