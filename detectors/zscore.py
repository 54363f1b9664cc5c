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

from detectors.robust import as_number, finite, median, whole
from detectors.statepack import pack_floats, unpack_floats

__all__ = ["RobustZScore"]


class RobustZScore:
    """Robust z-score against a baseline of the first ``warmup`` observations.

    With ``max_points``, a long commissioning keeps at most that many of its observations, evenly
    spread (every ``ceil(warmup / max_points)``-th), so the state stays bounded however long the
    commissioning; without it (or when ``warmup <= max_points``) every observation is kept.
    """

    def __init__(self, warmup: int = 30, min_scale: float = 0.02, min_abs_scale: float = 1e-12,
                 max_points: int | None = None) -> None:
        self.warmup = whole("warmup", warmup, least=5)
        self.min_scale = finite("min_scale", min_scale, least=0.0)
        self.min_abs_scale = finite("min_abs_scale", min_abs_scale, above=0.0)
        self.max_points = None if max_points is None else whole("max_points", max_points, least=5)
        self.stride = 1 if self.max_points is None else -(-self.warmup // self.max_points)
        self._reset()

    def _reset(self) -> None:
        self._buffer: dict[str, deque[float]] = {}
        self.baseline: dict[str, tuple[float, float]] = {}
        self.n_seen = 0

    @property
    def ready(self) -> bool:
        return self.n_seen >= self.warmup

    @property
    def points(self) -> dict[str, deque[float]]:
        """The observations kept per feature while the baseline is learnt (none once it is fitted);
        for reading only."""
        return self._buffer

    def learn_one(self, x: dict[str, float]) -> None:
        if self.ready:
            return
        self.n_seen += 1
        if (self.n_seen - 1) % self.stride == 0:
            buffers = self._buffer
            for k, v in x.items():
                v = as_number(v)
                if not math.isfinite(v):
                    continue
                buf = buffers.get(k)
                if buf is None:  # (not setdefault: no new deque made for every value)
                    buf = buffers[k] = deque(maxlen=self._kept())
                buf.append(v)
        if self.ready:
            self._fit()

    def _kept(self) -> int:
        """How many observations the buffer of one feature holds at most."""
        return -(-self.warmup // self.stride)

    def finalize(self) -> bool:
        """Fix the baseline now from what was learnt (at least 5 observations kept); True if ready."""
        if not self.ready and (self.n_seen + self.stride - 1) // self.stride >= 5:
            self.n_seen = self.warmup
            self._fit()
        return self.ready

    def _fit(self) -> None:
        for k, values in self._buffer.items():
            arr = np.asarray(values)
            if arr.size and np.isfinite(arr).all():  # (robust.median: np.median's number by one partition)
                med = median(arr)
                mad = median(np.abs(arr - med)) * 1.4826
            else:  # (learn_one keeps finite values only; a state saved otherwise, as before)
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
                "max_points": self.max_points, "n_seen": self.n_seen,
                # packed as float64 (:mod:`detectors.statepack`: exact, about half the JSON of lists)
                "buffer": {k: pack_floats(v) for k, v in self._buffer.items()},
                "baseline": {k: list(v) for k, v in self.baseline.items()}}

    @classmethod
    def from_state(cls, state: dict) -> RobustZScore:
        det = cls(state["warmup"], state["min_scale"], state.get("min_abs_scale", 1e-12),
                  state.get("max_points"))
        det.n_seen = state["n_seen"]
        # (a list in states saved before the buffers were packed)
        det._buffer = {k: deque(unpack_floats(v), maxlen=det._kept()) for k, v in state["buffer"].items()}
        det.baseline = {k: (v[0], v[1]) for k, v in state["baseline"].items()}
        return det
