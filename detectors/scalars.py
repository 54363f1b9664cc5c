"""Adaptive detection on one scalar telemetry series (e.g. a temperature, a mean |acceleration|).

Per key: a commissioning baseline (median / MAD, of the log when the series is positive) over
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

from detectors.pagehinkley import PageHinkley
from detectors.prognosis import ExpTrend
from detectors.zscore import RobustZScore

__all__ = ["ScalarTrack"]


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
        self.z = self.baseline.scores({"v": self._tx(value)}).get("v", 0.0)
        self.ewma = self.alpha * self.z + (1 - self.alpha) * self.ewma
        self.ph.update(max(min(self.z, 20.0), -5.0))
        if value > 0:
            self.trend.update(ts, value)
        self.streak = self.streak + 1 if self.ewma >= self.watch_z else 0
        if self.ewma >= self.warning_z and self.streak >= self.persistence:
            self.level = 2
        elif self.streak >= self.persistence or self.ph.drift_detected:
            self.level = max(self.level, 1) if self.ewma >= self.watch_z / 2 else 1
        elif self.ewma < self.watch_z / 2:
            self.level = 0
        return self.level

    @property
    def baseline_value(self) -> float | None:
        base = self.baseline.baseline.get("v")
        if base is None:
            return None
        return math.exp(base[0]) if self.log else base[0]

    def state_dict(self) -> dict:
        return {"cfg": [self.warmup_s, self.points, self.watch_z, self.warning_z, self.alpha, self.persistence,
                        self.ph.delta, self.ph.threshold],
                "t0": self.t0, "last_kept": self.last_kept if math.isfinite(self.last_kept) else None,
                "log": self.log, "ewma": self.ewma, "z": self.z, "streak": self.streak, "level": self.level,
                "baseline": self.baseline.state_dict(), "ph": self.ph.state_dict(), "trend": self.trend.state_dict()}

    @classmethod
    def from_state(cls, state: dict) -> ScalarTrack:
        tr = cls(*state["cfg"])
        tr.log, tr.ewma, tr.z = state["log"], state["ewma"], state["z"]
        tr.t0 = state["t0"]
        tr.last_kept = -math.inf if state["last_kept"] is None else state["last_kept"]
        tr.streak, tr.level = state["streak"], state["level"]
        tr.baseline = RobustZScore.from_state(state["baseline"])
        tr.ph = PageHinkley.from_state(state["ph"])
        tr.trend = ExpTrend.from_state(state["trend"])
        return tr
