"""Time to failure from the trend of a health indicator, with an uncertainty range.

The indicator (e.g. velocity RMS, or RMS acceleration) is assumed to grow exponentially once
degradation has started, the usual model for rolling-element bearings: ``log h(t) = a + b·t``.
The last ``window`` points are fitted by least squares, more recent points weighted more (a
half-life of ``window/2`` points) so the fit follows an accelerating trend. The time for the
fitted line to reach ``log(limit)`` is the estimate; the range comes from the slope ± 2
standard errors (a ≈ 95 % interval). No estimate while the slope is not significantly positive.

>>> import math
>>> tr = ExpTrend(window=32)
>>> for i in range(30):
...     tr.update(i * 60.0, 1.0 * math.exp(0.01 * i))   # +1 % per minute
>>> ttf, lo, hi = tr.time_to(math.exp(0.01 * 29) * 2)   # twice the current level
>>> round(ttf / 60), lo <= ttf <= hi
(69, True)
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

__all__ = ["ExpTrend"]


class ExpTrend:
    """Bounded-memory exponential trend of one positive indicator."""

    def __init__(self, window: int = 48, min_points: int = 8) -> None:
        if window < 4:
            raise ValueError(f"window must be at least 4, got {window}")
        if not 3 <= min_points <= window:
            raise ValueError(f"min_points must be in [3, window], got {min_points}")
        self.window = window
        self.min_points = min_points
        self._reset()

    def _reset(self) -> None:
        self.points: deque[tuple[float, float]] = deque(maxlen=self.window)

    def update(self, t: float, value: float) -> None:
        if value > 0 and math.isfinite(value) and math.isfinite(t):
            if self.points and t <= self.points[-1][0]:
                return
            self.points.append((float(t), math.log(value)))

    def fit(self, since: float | None = None) -> tuple[float, float, float, float] | None:
        """(intercept at the last time, slope per second, slope standard error, last time).

        ``since``: fit only the points at or after this time (e.g. after a level step).
        """
        pts = [p for p in self.points if since is None or p[0] >= since]
        if len(pts) < self.min_points:
            return None
        arr = np.asarray(pts)
        t, y = arr[:, 0], arr[:, 1]
        t_last = t[-1]
        tt = t - t_last
        w = 0.5 ** ((len(t) - 1 - np.arange(len(t))) / (self.window / 2))
        sw = w.sum()
        tm, ym = float(w @ tt / sw), float(w @ y / sw)
        stt = float(w @ (tt - tm) ** 2)
        if stt <= 0:
            return None
        b = float(w @ ((tt - tm) * (y - ym)) / stt)
        a = ym - b * tm
        resid = y - (a + b * tt)
        dof = max(len(t) - 2, 1)
        s2 = float(w @ resid ** 2) / sw * len(t) / dof
        se = math.sqrt(s2 * len(t) / sw / stt) if s2 > 0 else 0.0
        return a, b, se, float(t_last)

    def time_to(self, limit: float, since: float | None = None) -> tuple[float, float, float] | None:
        """(estimate, low, high) seconds from the last point until the trend reaches ``limit``."""
        res = self.fit(since)
        if res is None or limit <= 0:
            return None
        a, b, se, _ = res
        gap = math.log(limit) - a
        if gap <= 0:
            return 0.0, 0.0, 0.0
        if b <= 2 * se or b <= 0:
            return None
        est = gap / b
        low = gap / (b + 2 * se)
        high = gap / (b - 2 * se) if b - 2 * se > 0 else math.inf
        return est, low, min(high, 100 * est)

    def state_dict(self) -> dict:
        return {"window": self.window, "min_points": self.min_points, "points": [list(p) for p in self.points]}

    @classmethod
    def from_state(cls, state: dict) -> ExpTrend:
        tr = cls(state["window"], state["min_points"])
        tr.points.extend((float(a), float(b)) for a, b in state["points"])
        return tr
