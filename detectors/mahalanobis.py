"""Multivariate detector: Hotelling's T² of the feature vector against the commissioning baseline.

During commissioning (``warmup`` observations) the mean and covariance of the feature vector are
learnt (with a small ridge so a flat feature does not make the covariance singular). Afterwards a
new vector's T² is converted to a p-value with the *predictive* F distribution of a new
observation, ``T² · n(n−d) / (d(n+1)(n−1)) ~ F(d, n−d)``, which accounts for a baseline learnt
from few samples. ``score_one`` is −log10(p): a threshold of 4 is a false-alarm probability of
1e-4 per observation under the baseline's own distribution, whatever the features' units.

Features missing from a vector are imputed with their baseline mean (they then add nothing). A
feature missing (or not a number) in some warm-up vectors is learnt from the others; one missing
in half of them or more is left out.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> det = Mahalanobis(warmup=40)
>>> for _ in range(40):
...     det.learn_one({"a": rng.normal(), "b": rng.normal()})
>>> det.score_one({"a": 0.1, "b": -0.2}) < 1, det.score_one({"a": 6.0, "b": 6.0}) > 4
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.special import fdtrc

from detectors.robust import as_number, finite, whole
from detectors.statepack import pack_floats, unpack_floats

__all__ = ["Mahalanobis"]


class Mahalanobis:
    """Hotelling T² with a calibrated −log10 p-value as the score.

    With ``max_rows``, a long commissioning keeps at most that many of its vectors, evenly spread
    (every ``ceil(warmup / max_rows)``-th), so the state stays bounded however long the
    commissioning; the p-value then counts the vectors kept.
    """

    def __init__(self, warmup: int = 30, ridge: float = 0.05, max_rows: int | None = None) -> None:
        self.warmup = whole("warmup", warmup, least=8)
        self.ridge = finite("ridge", ridge, least=0.0)
        self.max_rows = None if max_rows is None else whole("max_rows", max_rows, least=8)
        self.stride = 1 if self.max_rows is None else -(-self.warmup // self.max_rows)
        self._reset()

    def _reset(self) -> None:
        self.keys: list[str] = []
        self._rows: list[list[float]] = []
        self.mean: np.ndarray | None = None
        self.inv_cov: np.ndarray | None = None
        self.n = 0
        self.n_seen = 0

    @property
    def ready(self) -> bool:
        return self.inv_cov is not None

    def learn_one(self, x: dict[str, float]) -> None:
        if self.ready:
            return
        if not self.keys:
            self.keys = sorted(x)
        self.n_seen += 1
        if (self.n_seen - 1) % self.stride == 0:
            self._rows.append([as_number(x.get(k, math.nan)) for k in self.keys])
        if self.n_seen >= self.warmup:
            self._fit()

    def _fit(self) -> None:
        data = np.asarray(self._rows, dtype=np.float64)
        finite = np.isfinite(data)
        # A feature missing in most of the warm-up has no baseline; one missing now and then does:
        # its rows are left out (complete cases), not the feature.
        keep = finite.mean(axis=0) > 0.5
        while True:
            rows = np.all(finite[:, keep], axis=1)
            d = int(keep.sum())
            if d == 0 or rows.sum() > d + 2:
                break
            missing = np.where(keep, (~finite).sum(axis=0), -1)
            if missing.max() > 0:
                keep[int(np.argmax(missing))] = False    # the feature that costs most rows goes
            else:
                keep[np.flatnonzero(keep)[-1]] = False   # too few rows for this many features
        self.keys = [k for k, ok in zip(self.keys, keep) if ok]
        data = data[np.ix_(rows, keep)]
        self.n = data.shape[0]
        d = data.shape[1]
        self.mean = data.mean(axis=0)
        cov = np.cov(data, rowvar=False).reshape(d, d) if d else np.zeros((0, 0))
        diag = np.diag(cov).copy()
        floor = np.maximum(diag, 1e-12)
        cov = (1 - self.ridge) * cov + self.ridge * np.diag(floor)
        self.inv_cov = np.linalg.pinv(cov) if d else np.zeros((0, 0))
        self._rows = []

    def t2(self, x: dict[str, float]) -> float:
        if not self.ready or not self.keys:
            return 0.0
        assert self.mean is not None and self.inv_cov is not None
        means = self.__dict__.get("_mean_list")
        if means is None or means[0] is not self.mean:  # the mean as plain floats (the same numbers), once
            means = self._mean_list = (self.mean, self.mean.tolist())
        values = [as_number(x.get(k, m)) for k, m in zip(self.keys, means[1])]
        v = np.array(values)
        if all(map(math.isfinite, values)):
            v = v - self.mean  # (np.where would keep every value: the same numbers)
        else:
            v = np.where(np.isfinite(v), v, self.mean) - self.mean
        return float(v @ self.inv_cov @ v)

    def score_one(self, x: dict[str, float]) -> float:
        d = len(self.keys)
        if not self.ready or d == 0:
            return 0.0
        n = self.n
        f = self.t2(x) * n * (n - d) / (d * (n + 1) * (n - 1))
        p = float(fdtrc(d, n - d, f))
        return min(-math.log10(max(p, 1e-300)), 300.0)

    def state_dict(self, columns: Mapping[str, Sequence[float]] | None = None) -> dict:
        """The state as JSON-able data. ``columns``: values of features another detector saves, learnt
        from the same vectors (the monitor's robust baseline keeps every feature's commissioning points,
        with the same stride): when they hold the rows' values exactly, bit for bit, the rows are not
        written again (``rows_from_columns``), and :meth:`from_state` takes them from the same columns."""
        # the rows (one run of len(keys) values per row), mean and inverse covariance packed as float64
        # (:mod:`detectors.statepack`: exact, about half the JSON of lists; NaN, a missing feature, too)
        state = {"warmup": self.warmup, "ridge": self.ridge, "max_rows": self.max_rows, "keys": list(self.keys),
                 "n_seen": self.n_seen, "n": self.n,
                 "mean": None if self.mean is None else pack_floats(self.mean.ravel()),
                 "inv_cov": None if self.inv_cov is None else pack_floats(self.inv_cov.ravel())}
        if columns is not None and self._rows and _in_columns(self._rows, self.keys, columns):
            state["rows_from_columns"] = True
        else:
            state["rows"] = pack_floats(v for r in self._rows for v in r)
        return state

    @classmethod
    def from_state(cls, state: dict, columns: Mapping[str, Sequence[float]] | None = None) -> Mahalanobis:
        """The detector :meth:`state_dict` saved; ``columns``: the ones it was given, for rows saved as
        theirs (raises ValueError when they are not given or do not hold them)."""
        det = cls(state["warmup"], state["ridge"], state.get("max_rows"))
        det.keys, det.n = list(state["keys"]), int(state["n"])
        d = len(det.keys)
        if state.get("rows_from_columns"):
            missing = [k for k in det.keys if columns is None or k not in columns]
            if missing or not det.keys or len({len(columns[k]) for k in det.keys}) != 1:  # type: ignore[index]
                raise ValueError(f"mahalanobis rows: saved as the columns of {', '.join(det.keys) or 'no feature'}, "
                                 f"which are {'missing: ' + ', '.join(missing) if missing else 'not of one length'}")
            rows = [list(r) for r in zip(*(columns[k] for k in det.keys))]  # type: ignore[index]
        else:
            rows = state["rows"]
        if isinstance(rows, str):  # packed (states saved before: a list of rows)
            flat = unpack_floats(rows)
            if d == 0 and flat or d and len(flat) % d:
                raise ValueError(f"mahalanobis rows: {len(flat)} values are not rows of {d} features")
            rows = [flat[i:i + d] for i in range(0, len(flat), d)] if d else []
        det._rows = [list(r) for r in rows]
        det.n_seen = int(state.get("n_seen", len(det._rows)))  # a state without n_seen: a row per vector
        if state["mean"] is not None:
            det.mean = _array(state["mean"], (d,))
            det.inv_cov = _array(state["inv_cov"], (d, d))
        return det


def _in_columns(rows: list[list[float]], keys: list[str], columns: Mapping[str, Sequence[float]]) -> bool:
    """Whether ``columns`` hold ``rows`` (one value of each of ``keys`` per row) exactly, bit for bit."""
    for i, k in enumerate(keys):
        col = columns.get(k)
        if col is None or len(col) != len(rows):
            return False
        if np.asarray(col, dtype="<f8").tobytes() != np.asarray([r[i] for r in rows], dtype="<f8").tobytes():
            return False
    return True


def _array(saved: str | list, shape: tuple[int, ...]) -> np.ndarray:
    """A saved array: packed (:func:`detectors.statepack.pack_floats`) or, as saved before, nested lists."""
    return np.asarray(unpack_floats(saved) if isinstance(saved, str) else saved, dtype=np.float64).reshape(shape)
