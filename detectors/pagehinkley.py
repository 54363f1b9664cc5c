"""Page-Hinkley test for an upward shift in the mean of a (standardised) stream.

river's drift protocol: ``update(x)`` then read ``drift_detected``. For the anomaly protocol,
``score_one`` returns the current cumulative statistic in units of ``threshold`` (≥ 1 means a
drift is signalled). The statistic is ``m_t = Σ (x_i − μ̂_i − δ)`` against its running minimum;
with ``x`` already a z-score (baseline mean 0, unit scale) ``δ`` and ``threshold`` are in
standard deviations, so the false-alarm rate does not depend on the feature's units.

``cap`` bounds the statistic at ``cap × threshold``, so that a shift that has ended is forgotten:
unbounded, the statistic falls only by about ``delta`` per value once the stream is back at its
mean, and a rise of a few hours (z ≈ 20 for 48 values, a statistic of ~900 standard deviations)
kept the test signalling for ~900 values after it ended. Capped at 2 × the threshold, it signals
for ``threshold / delta`` values after the stream is back, and the detection itself, which needs
the statistic to reach the threshold, is unchanged.

>>> ph = PageHinkley(delta=0.5, threshold=8.0, mean=0.0)
>>> [ph.update(0.1 * (i % 3 - 1)) for i in range(50)][-1]
False
>>> any(ph.update(2.0) for _ in range(6))
True
"""

from __future__ import annotations

import math

from detectors.robust import as_number, finite

__all__ = ["PageHinkley"]


class PageHinkley:
    """One-sided (increase) Page-Hinkley test.

    ``mean``: the reference mean; None learns it as the running mean of the stream (as river does),
    a number fixes it (e.g. 0.0 for z-scores against a commissioning baseline).
    """

    def __init__(self, delta: float = 0.5, threshold: float = 10.0, mean: float | None = 0.0,
                 cap: float | None = None) -> None:
        self.delta = finite("delta", delta, least=0.0)
        self.threshold = finite("threshold", threshold, above=0.0)
        self.mean = None if mean is None else finite("mean", mean)
        self.cap = None if cap is None else finite("cap", cap, least=1.0)
        self._reset()

    def _reset(self) -> None:
        self.n = 0
        self._sum = 0.0
        self.cum = 0.0
        self.cum_min = 0.0
        self.drift_detected = False

    def restart(self) -> None:
        """The statistic from 0 again (what came before is no part of a shift from here on)."""
        self.cum_min = self.cum
        self.drift_detected = False

    @property
    def statistic(self) -> float:
        return self.cum - self.cum_min

    def update(self, x: float) -> bool:
        x = as_number(x)
        if not math.isfinite(x):  # NaN, infinite or not a number: ignore rather than poison the sum
            return self.drift_detected
        self.n += 1
        self._sum += x
        ref = self._sum / self.n if self.mean is None else self.mean
        self.cum += x - ref - self.delta
        self.cum_min = min(self.cum_min, self.cum)
        if self.cap is not None:  # the statistic at most cap x threshold
            self.cum_min = max(self.cum_min, self.cum - self.cap * self.threshold)
        self.drift_detected = self.statistic > self.threshold
        return self.drift_detected

    def learn_one(self, x: dict[str, float]) -> None:
        values = [v for v in map(as_number, x.values()) if math.isfinite(v)]
        if values:
            self.update(max(values))

    def score_one(self, x: dict[str, float]) -> float:
        return self.statistic / self.threshold

    def state_dict(self) -> dict:
        state = {"delta": self.delta, "threshold": self.threshold, "mean": self.mean, "n": self.n,
                 "sum": self._sum, "cum": self.cum, "cum_min": self.cum_min, "drift": self.drift_detected}
        return state if self.cap is None else {**state, "cap": self.cap}

    @classmethod
    def from_state(cls, state: dict) -> PageHinkley:
        """The test :meth:`state_dict` saved (a state without ``cap``, as saved before it existed: unbounded)."""
        ph = cls(state["delta"], state["threshold"], state["mean"], state.get("cap"))
        ph.n, ph._sum, ph.cum, ph.cum_min = state["n"], state["sum"], state["cum"], state["cum_min"]
        ph.drift_detected = bool(state["drift"])
        return ph
