"""A per-unit robust baseline: median and MAD of each feature, learnt during commissioning.

``score_one`` is the largest robust z-score over the features it knows (higher = more anomalous),
so it follows river's anomaly-detector protocol and can be swapped for any river detector.

>>> det = RobustZScore(warmup=20)
>>> for i in range(20):
...     det.learn_one({"rms_g": 1.0 + 0.01 * (i % 5)})
>>> det.score_one({"rms_g": 1.02}) < 3, det.score_one({"rms_g": 2.0}) > 10
(True, True)
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from detectors.robust import as_number

__all__ = ["RobustZScore"]


class RobustZScore:
    """Robust z-score against a baseline of the first ``warmup`` observations."""

    def __init__(self, warmup: int = 30, min_scale: float = 0.02, min_abs_scale: float = 1e-12) -> None:
        if warmup < 5:
            raise ValueError(f"warmup must be at least 5, got {warmup}")
        if min_scale < 0:
            raise ValueError(f"min_scale must be >= 0, got {min_scale}")
        if min_abs_scale <= 0:
            raise ValueError(f"min_abs_scale must be > 0, got {min_abs_scale}")
        self.warmup = warmup
        self.min_scale = min_scale
        self.min_abs_scale = min_abs_scale
        self._reset()

    def _reset(self) -> None:
        self._buffer: dict[str, deque[float]] = {}
        self.baseline: dict[str, tuple[float, float]] = {}
        self.n_seen = 0

    @property
    def ready(self) -> bool:
        return self.n_seen >= self.warmup

    def learn_one(self, x: dict[str, float]) -> None:
        if self.ready:
            return
        self.n_seen += 1
        for k, v in x.items():
            v = as_number(v)
            if not math.isfinite(v):
                continue
            self._buffer.setdefault(k, deque(maxlen=self.warmup)).append(v)
        if self.ready:
            self._fit()

    def finalize(self) -> bool:
        """Fix the baseline now from what was learnt (at least 5 observations); True if ready."""
        if not self.ready and self.n_seen >= 5:
            self.n_seen = self.warmup
            self._fit()
        return self.ready

    def _fit(self) -> None:
        for k, values in self._buffer.items():
            arr = np.asarray(values)
            med = float(np.median(arr))
            mad = float(np.median(np.abs(arr - med))) * 1.4826
            self.baseline[k] = (med, max(mad, self.min_scale * abs(med), self.min_abs_scale))
        self._buffer.clear()

    def scores(self, x: dict[str, float]) -> dict[str, float]:
        """Robust z-score of each value with a baseline (values that are not finite numbers are left out)."""
        out = {}
        for k, v in x.items():
            if k in self.baseline:
                v = as_number(v)
                if math.isfinite(v):
                    out[k] = (v - self.baseline[k][0]) / self.baseline[k][1]
        return out

    def score_one(self, x: dict[str, float]) -> float:
        s = self.scores(x)
        return max(s.values(), default=0.0)

    def state_dict(self) -> dict:
        return {"warmup": self.warmup, "min_scale": self.min_scale, "min_abs_scale": self.min_abs_scale,
                "n_seen": self.n_seen,
                "buffer": {k: list(v) for k, v in self._buffer.items()},
                "baseline": {k: list(v) for k, v in self.baseline.items()}}

    @classmethod
    def from_state(cls, state: dict) -> RobustZScore:
        det = cls(state["warmup"], state["min_scale"], state.get("min_abs_scale", 1e-12))
        det.n_seen = state["n_seen"]
        det._buffer = {k: deque(v, maxlen=det.warmup) for k, v in state["buffer"].items()}
        det.baseline = {k: (v[0], v[1]) for k, v in state["baseline"].items()}
        return det
