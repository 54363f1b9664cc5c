"""Time to failure from the trend of a health indicator, with an uncertainty range.

The indicator (e.g. velocity RMS, or RMS acceleration) is assumed to grow exponentially once
degradation has started, the usual model for rolling-element bearings: ``log h(t) = a + b·t``.
The last ``window`` points are fitted by least squares, more recent points weighted more (a
half-life of ``window/2`` points) so the fit follows an accelerating trend. The time for the
fitted line to reach ``log(limit)`` is the estimate. No estimate while the slope is not
significantly positive.

The range is a ~90 % *prediction* interval of the time the indicator reaches the limit, not a
confidence interval of the slope alone. At a horizon ``T`` ahead the indicator's log is predicted
as ``a + b·T`` with a variance made of

1. the fit's uncertainty: intercept, slope and their covariance (``x'(X'WX)^-1 x σ²``);
2. the scatter of one observation about the trend (``σ²``: the limit is crossed by a measured
   value, not by the trend's mean);
3. the model's own error: the exponential model assumes a constant degradation rate, and a local
   quadratic fit over the same window measures how far the current rate ``b₀`` (its slope at the
   last point) has moved from the window's average rate ``b``; the rate ahead is taken to be
   uncertain by at least as much, ``|b₀ - b|·T`` in the log level at ``T``.

Both rates are plausible models of what comes next (the window's average, and the current rate
from the quadratic's intercept and slope at the last point), so the range is the union of their
two intervals (and, given the healthy level, of the same for the fault's excess over it: see
:meth:`ExpTrend.time_to`). ``low`` and ``high`` are the first times the upper and the lower 90 % bound
(Student t) reach the limit. ``high`` is then capped by a physical bound: a degrading machine
does not slow down, so the indicator's straight-line (not logarithmic) trend, at its slope's lower
bound, reaches the limit no earlier than the true path does; without that, ``high`` is at most
100 × the estimate. The estimate itself is the crossing at the window's average rate, raised by
the acceleration the quadratic shows beyond its own noise (``b + rate error`` when the current
rate is the higher): degradation accelerates, and an estimate that comes too late costs more than
one that comes too early (a failure before the planned repair; PHM 2012 scores a late estimate
four times as harshly).

How the fault grows from here is not known, and far from the limit that matters most. Two models
fit the same level ``h`` and rate ``r`` (of ``log h``): a constant relative rate (the exponential
above, ``ln(L/h)/r`` to the limit ``L``), and a rate that grows with the damage, ``dh/dt ∝ h²``, so
that ``1/h`` falls on a straight line (the inverse-rate form of failure forecasting, Fukuzono and
Voight, for accelerating material failure): ``(1 - h/L)/r``. They agree near the limit and part
far from it, by the factor ``f = (1 - e^-g)/g`` for the log gap ``g = ln(L/h)`` (0.72 at half the
limit, 0.39 at a tenth). The estimate is their geometric mean (``× √f``) and the range's low end
the accelerating model's (``× f``); the high end stays the constant-rate model's. A first warning
comes early in a fault's life, where the indicator has barely left its healthy level: the
constant-rate model alone put the estimate there at 1.6-2.4 × the time actually left on the
simulated fleets, and its range held the truth at 40-60 % of first warnings
(``docs/detector-performance.md``).
The window is a count of points, so its span follows the unit's sending rate: 48 snapshots are 8
hours at one every 10 minutes but 8 minutes at one every 10 s, too short to see a rise that takes
hours. With ``tiers``, the trend also keeps means of 8, 64, ... points (each tier ``window`` means
long, with each mean's scatter) and reads them, finest first, where the window shows no
significant rise (:meth:`ExpTrend.time_to`), except for an indicator still within 10 % of its
healthy level: a tier's slow drift there is no measurable fault excess, and the answer is "not yet
estimable" rather than a distant extrapolation.
Measured on simulated runs to failure (a snapshot every 10 minutes and every minute) and FEMTO in
``bench/prognosis_calibration.py``.

>>> import math
>>> tr = ExpTrend(window=32)
>>> for i in range(30):
...     tr.update(i * 60.0, 1.0 * math.exp(0.01 * i))   # +1 % per minute
>>> ttf, lo, hi = tr.time_to(math.exp(0.01 * 29) * 2)   # twice the current level
>>> round(ttf / 60), lo <= ttf <= hi   # constant rate: 69 min; accelerating: 50 min
(59, True)
"""

from __future__ import annotations

import math
import threading
from collections import deque
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np
from scipy.special import stdtrit

from detectors.robust import whole
from detectors.statepack import pack_floats, unpack_floats

__all__ = ["ExpTrend"]

LEVEL = 0.90  # two-sided coverage of the range
HORIZON_MAX = 100.0  # the range ends at most this many times the estimate ahead


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, int] | None:
    """Weighted least squares: (coefficients, (X'WX)^-1, residual variance at weight 1, dof)."""
    xtw = x.T * w
    return _wls_solve(xtw @ x, xtw, x, y, w)


def _wls_solve(m: np.ndarray, xtw: np.ndarray, x: np.ndarray, y: np.ndarray,
               w: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any, int] | None:
    """:func:`_wls` from the design's weighted moments ``m = X'WX`` and ``xtw = X'W`` (several fits
    on the same times share them). ``y`` may hold several series as columns: then the
    coefficients are columns too and the residual variance is one per column."""
    dof = len(y) - x.shape[1]
    if dof < 1:
        return None
    inv = _inverse(m)
    if inv is None:
        return None
    beta = inv @ (xtw @ y)
    resid = y - x @ beta
    s2 = (w @ resid**2) / dof
    return beta, inv, (s2 if y.ndim == 2 else float(s2)), dof


def _inverse(m: np.ndarray) -> np.ndarray | None:
    """Inverse of a 2×2 or 3×3 moment matrix by cofactors, in plain floats (no LAPACK call for
    such small systems); None when it is (nearly) singular: all points at one time, or too few
    distinct times for the terms."""
    if m.shape == (2, 2):
        (p, q), (r, t) = m.tolist()
        det = p * t - q * r
        if not math.isfinite(det) or abs(det) <= 1e-12 * p * t or det == 0.0:
            return None
        flat = [t / det, -q / det, -r / det, p / det]
    else:
        (a, b, c), (d, e, f), (g, h, i) = m.tolist()
        c00, c01, c02 = e * i - f * h, f * g - d * i, d * h - e * g
        det = a * c00 + b * c01 + c * c02
        if not math.isfinite(det) or det == 0.0 or abs(det) <= 1e-12 * a * e * i:
            return None
        # the adjugate (transposed cofactors) over the determinant
        flat = [c00 / det, (c * h - b * i) / det, (b * f - c * e) / det,
                c01 / det, (a * i - c * g) / det, (c * d - a * f) / det,
                c02 / det, (b * g - a * h) / det, (a * e - b * d) / det]
    if not all(map(math.isfinite, flat)):
        return None
    n = m.shape[0]
    return np.array(flat).reshape(n, n)


@lru_cache(maxsize=64)
def _weights(n: int, window: int) -> np.ndarray:
    """1 for the newest of ``n`` points, halving every ``window/2`` points back (read-only)."""
    w = 0.5 ** ((n - 1 - np.arange(n)) / (window / 2))
    w.flags.writeable = False
    return w


@lru_cache(maxsize=256)
def _t_quantile(dof: int) -> float:
    """Student t quantile of the range's two-sided coverage ``LEVEL`` (the same few dofs recur)."""
    return float(stdtrit(dof, 0.5 + LEVEL / 2))


class _Design:
    """What the fits of :meth:`ExpTrend._time_to` on one set of times and weights share: the design
    ``[1, τ, τ²]`` (``τ`` the times in units of the fitted span), its weighted moments, their
    inverses (None: singular, or too few points), and the plain floats the per-model arithmetic
    reads from them."""

    __slots__ = ("n", "scale", "v", "vtw", "v2", "vtw2", "line_inv", "line_dof", "line_inv2", "line_inv11",
                 "quad_inv", "quad_dof", "quad_inv2", "quad_inv11", "q2", "q", "w_sum")

    def __init__(self, tt: np.ndarray, w: np.ndarray) -> None:
        n = self.n = tt.size
        self.scale = scale = float(-tt[0]) or 1.0
        tau = tt / scale  # in units of the fitted span, for a well-conditioned quadratic fit
        # one design [1, τ, τ²] and its weighted moments serve the three fits (the straight line of
        # log h, the quadratic, and the straight line of h for the latest plausible crossing)
        v = np.empty((n, 3))
        v[:, 0], v[:, 1], v[:, 2] = 1.0, tau, tau * tau
        vtw = v.T * w
        mom = vtw @ v
        self.v, self.vtw, self.v2, self.vtw2 = v, vtw, v[:, :2], vtw[:2]
        self.line_dof = n - 2
        self.line_inv = _inverse(mom[:2, :2]) if self.line_dof >= 1 else None
        self.quad_dof = n - 3
        self.quad_inv = _inverse(mom) if n >= 6 and self.line_inv is not None else None
        if self.line_inv is not None:
            self.line_inv2 = self.line_inv.tolist()
            self.line_inv11 = float(self.line_inv[1, 1])
            self.q2 = _t_quantile(self.line_dof) ** 2
            self.q = math.sqrt(self.q2)
        if self.quad_inv is not None:
            self.quad_inv2 = self.quad_inv[:2, :2].tolist()
            self.quad_inv11 = float(self.quad_inv[1, 1])
        if self.line_inv is None:
            self.line_inv2, self.line_inv11, self.q2, self.q = None, math.nan, math.nan, math.nan
        if self.quad_inv is None:
            self.quad_inv2, self.quad_inv11 = None, math.nan
        self.w_sum = float(w.sum())
        for arr in (v, vtw, self.line_inv, self.quad_inv):
            if arr is not None:
                arr.flags.writeable = False


_DESIGNS: dict[tuple[bytes, bytes], _Design] = {}
_DESIGNS_MAX = 64
_DESIGNS_LOCK = threading.Lock()


def _design(tt: np.ndarray, w: np.ndarray) -> _Design:
    """:class:`_Design` of the times ``tt`` and weights ``w``, worked out once for the very same
    values (the key is their bytes: equal numbers, bit for bit); at most ``_DESIGNS_MAX`` kept."""
    key = (tt.tobytes(), w.tobytes())
    d = _DESIGNS.get(key)
    if d is None:
        d = _Design(tt, w)
        with _DESIGNS_LOCK:  # ingest workers share the cache: one evicts at a time
            if len(_DESIGNS) >= _DESIGNS_MAX:
                del _DESIGNS[next(iter(_DESIGNS))]  # the oldest
            _DESIGNS[key] = d
    return d


def _first_reaches(gap: float, slope: float, c0: float, c1: float, c2: float) -> tuple[float | None, float | None]:
    """First horizons ``g`` in ``[0, HORIZON_MAX]`` where the upper and the lower bound of the predicted
    level reach the limit: ``slope·g ± sqrt(c0 + c1·g + c2·g²) >= gap`` (``gap``: the limit over the
    level now); None for a bound that does not within the horizon.

    Where a bound meets the limit, ``gap - slope·g = ±sd(g)``; squared, a quadratic in ``g`` (the same
    for both bounds, so solved once) whose roots on the bound's own side (``gap - slope·g`` of the
    bound's sign) are the crossings."""
    sd0 = math.sqrt(max(c0, 0.0))
    up_now, down_now = sd0 >= gap, -sd0 >= gap  # (sign · sd0: exactly ±sd0)
    if up_now and down_now:
        return 0.0, 0.0
    qa, qb, qc = slope * slope - c2, -2.0 * slope * gap - c1, gap * gap - c0
    if abs(qa) <= 1e-12 * max(slope * slope, c2):
        roots = [-qc / qb] if qb else []
    else:
        disc = qb * qb - 4.0 * qa * qc
        if disc < 0:
            return (0.0 if up_now else None), (0.0 if down_now else None)
        t = -0.5 * (qb + math.copysign(math.sqrt(disc), qb))  # the numerically stable pair
        roots = [t / qa, qc / t] if t else [t / qa]
    tol = 1e-12 * max(abs(gap), 1.0)
    up = down = None
    for g in roots:
        if 0.0 <= g <= HORIZON_MAX:
            side = gap - slope * g
            if side >= -tol and (up is None or g < up):
                up = g
            if -side >= -tol and (down is None or g < down):
                down = g
    return (0.0 if up_now else up), (0.0 if down_now else down)


def _latest_crossing(line: tuple[np.ndarray, np.ndarray, np.ndarray, int] | None, j: int, limit: float,
                     q: float) -> float:
    """Latest plausible crossing if the indicator stops accelerating: column ``j`` of the
    straight-line (not logarithmic) fit ``line``, at its slope's lower 90 % bound, in grid units
    of the fit; inf when that slope is not positive."""
    if line is None:
        return math.inf
    beta, inv, s2, _ = line
    c, d = float(beta[0, j]), float(beta[1, j])
    d_low = d - q * math.sqrt(max(float(s2[j]) * inv[1, 1], 0.0))
    return (limit - c) / d_low if d_low > 0 and limit > c else math.inf


class ExpTrend:
    """Bounded-memory exponential trend of one positive indicator.

    ``tiers``: coarser views of the same indicator for a rise slower than the last ``window`` points
    can show. Tier ``i`` keeps the last ``window`` means of ``fold**i`` consecutive points (with each
    mean's scatter), so it spans ``fold**i`` times as long for the same memory. A unit sending every
    10 s fills ``window = 48`` points in 8 minutes, while a bearing degrades over hours to months:
    where the recent points show no significant rise, :meth:`time_to` reads the tiers in turn (tier
    1 spans 64 minutes there, tier 2 8.5 hours). The points themselves are never averaged away: the
    estimate comes from the finest view that shows a significant rise.
    """

    def __init__(self, window: int = 48, min_points: int = 8, tiers: int = 0, fold: int = 8) -> None:
        self.window = whole("window", window, least=4)
        self.min_points = whole("min_points", min_points, least=3)
        if self.min_points > self.window:
            raise ValueError(f"min_points must be in [3, window], got {min_points}")
        self.tiers = whole("tiers", tiers, least=0)
        if self.tiers > 4:
            raise ValueError(f"tiers must be in [0, 4], got {tiers}")
        self.fold = whole("fold", fold, least=2)
        self._reset()

    def _reset(self) -> None:
        self.points: deque[tuple[float, float]] = deque(maxlen=self.window)
        # per tier: the bucket means (t, log value, variance of the log values within the bucket),
        # and the running sums (n, Σt, Σy, Σy²) of the bucket being filled
        self.coarse: list[deque[tuple[float, float, float]]] = [deque(maxlen=self.window) for _ in range(self.tiers)]
        self._acc: list[list[float]] = [[0.0, 0.0, 0.0, 0.0] for _ in range(self.tiers)]

    def update(self, t: float, value: float, *, coarse: bool = True) -> None:
        """Add a point; ``coarse=False``: to the window only, not to the tiers' means (which then
        begin with the first point given to them)."""
        if value > 0 and math.isfinite(value) and math.isfinite(t):
            if self.points and t <= self.points[-1][0]:
                return
            y = math.log(value)
            self.points.append((float(t), y))
            if not coarse:
                return
            for i, acc in enumerate(self._acc):
                acc[0] += 1.0
                acc[1] += t
                acc[2] += y
                acc[3] += y * y
                n = acc[0]
                if n >= self.fold ** (i + 1):
                    my = acc[2] / n
                    self.coarse[i].append((acc[1] / n, my, max(acc[3] / n - my * my, 0.0) * n / (n - 1)))
                    acc[:] = [0.0, 0.0, 0.0, 0.0]

    def _data(self, since: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
        pts = self.points if since is None else [p for p in self.points if p[0] >= since]
        if len(pts) < self.min_points:
            return None
        arr = np.fromiter(chain.from_iterable(pts), dtype=np.float64, count=2 * len(pts)).reshape(-1, 2)
        t, y = arr[:, 0], arr[:, 1]
        tt = t - t[-1]
        return tt, y, _weights(len(t), self.window), float(t[-1])

    def fit(self, since: float | None = None) -> tuple[float, float, float, float] | None:
        """(intercept at the last time, slope per second, slope standard error, last time).

        ``since``: fit only the points at or after this time (e.g. after a level step).
        """
        d = self._data(since)
        if d is None:
            return None
        tt, y, w, t_last = d
        scale = float(-tt[0]) or 1.0
        res = _wls(np.column_stack([np.ones_like(tt), tt / scale]), y, w)
        if res is None:
            return None
        beta, inv, s2, _ = res
        return float(beta[0]), float(beta[1]) / scale, math.sqrt(max(s2 * inv[1, 1], 0.0)) / scale, t_last

    def time_to(self, limit: float, since: float | None = None,
                floor: float | None = None) -> tuple[float, float, float] | None:
        """(estimate, low, high) seconds from the last point until the indicator reaches ``limit``.

        ``floor``: the indicator's healthy level. A fault's vibration adds to the healthy machine's
        in quadrature (energies add), so the excess ``sqrt(h² - floor²)`` trending towards
        ``sqrt(limit² - floor²)`` is a model of its own: an exponentially growing fault seen
        through the healthy floor looks like a slow start and then a sudden rise, which a fit of
        ``log h`` takes for a low constant rate (too late), while a fault that steps up at onset
        and then grows slowly makes the excess look too fast (too early). Neither is known to be
        right, so the estimate stays the plain indicator's and the range spans both models' ranges.
        Points less than 10 % above the floor carry no measurable excess and are left out; with
        too few left, or no significant rise in the excess, only the plain indicator counts.

        Without ``since``, where the last ``window`` points show no significant rise the coarser
        tiers are read in turn (finest first; a tier counts once it holds ``min_points`` means),
        unless the indicator is still within 10 % of its ``floor`` (the level the window fits now):
        then no estimate. A tier's slow drift is significant because its means average many points,
        but so near the healthy level it is no measurable fault excess, and extrapolated to a limit
        many times the floor it gave a confident, far too late time (on the simulated validation
        fleet, 25 and 101 × the time left at the first warning of two shaft faults whose velocity
        showed no rise yet).
        Their points are means, so each one's scatter within its bucket is added to the predicted
        level's variance: the limit is reached by a measured value, not by a mean. With ``since``
        (a rise after a level step) only the points count: a tier's means may straddle the step.
        """
        d = self._data(since)
        if d is None or limit <= 0:
            return None
        got = self._estimate(*d[:3], limit, floor, 0.0)
        if got is not None or since is not None:
            return got
        if self.coarse and floor is not None and 0 < floor < limit / 1.1:
            # a tier's slow rise is significant because its means average many points; an indicator still
            # within 10 % of its healthy level shows no measurable fault excess (the excess model's own
            # threshold), so its drift says nothing of when a fault reaches a limit many times the floor
            fit = self.fit()
            if fit is None or fit[0] < math.log(1.1 * floor):
                return None
        for tier in self.coarse:
            if len(tier) < self.min_points:
                break
            arr = np.array(tier, dtype=np.float64)
            t, y, var = arr[:, 0], arr[:, 1], arr[:, 2]
            w = _weights(len(t), self.window)
            got = self._estimate(t - t[-1], y, w, limit, floor, float(w @ var) / float(w.sum()))
            if got is not None:
                # seconds from the tier's last mean, which lies half a bucket before the last point
                lag = self.points[-1][0] - float(t[-1])
                return tuple(max(v - lag, 0.0) for v in got)  # type: ignore[return-value]
        return None

    def _estimate(self, tt: np.ndarray, y: np.ndarray, w: np.ndarray, limit: float, floor: float | None,
                  obs_var: float) -> tuple[float, float, float] | None:
        """:meth:`time_to` of one view: log values ``y`` at times ``tt`` (seconds, the last at 0)
        with weights ``w``; ``obs_var``: the scatter of one measured log value beyond the points'."""
        keep = None
        if floor is not None and 0 < floor < limit / 1.1:
            keep = y > math.log(1.1 * floor)
            kept = np.count_nonzero(keep)
            if kept < self.min_points:
                keep = None
        if keep is None:
            return self._time_to(tt, y[:, None], w, [limit], obs_var)[0]
        excess_y = 0.5 * np.log(np.exp(2 * y[keep]) - floor * floor)
        excess_limit = math.sqrt(limit * limit - floor * floor)
        if kept == y.size:  # the usual case once a fault shows: both models on the same times, in one pass
            both = np.empty((y.size, 2))  # (np.column_stack([y, excess_y]): the same C-ordered array)
            both[:, 0], both[:, 1] = y, excess_y
            plain, excess = self._time_to(tt, both, w, [limit, excess_limit], obs_var)
        else:
            plain = self._time_to(tt, y[:, None], w, [limit], obs_var)[0]
            excess = self._time_to(tt[keep], excess_y[:, None], w[keep], [excess_limit], obs_var)[0]
        if plain is None:
            return excess
        if excess is not None:
            return plain[0], min(plain[1], excess[1]), max(plain[2], excess[2])
        return plain

    @staticmethod
    def _time_to(tt: np.ndarray, ys: np.ndarray, w: np.ndarray, limits: list[float],
                 obs_var: float = 0.0) -> list[tuple[float, float, float] | None]:
        """:meth:`time_to` of each column of ``ys`` (log indicators on the times ``tt`` with weights
        ``w``) to its limit: (estimate, low, high) in seconds, or None. The columns share one
        design and its moments, so several are fitted for about the cost of one; and the design
        depends on the times and weights alone, so it is worked out once for the same times
        (:func:`_design`: both indicators of a snapshot, and every snapshot of a unit sending at a
        steady interval once the window is full)."""
        k = ys.shape[1]
        d = _design(tt, w)
        if d.line_inv is None:
            return [None] * k
        scale, dof, inv = d.scale, d.line_dof, d.line_inv
        # the straight lines of log h and of h itself (for the latest plausible crossing) in one solve
        y2 = np.concatenate([ys, np.exp(ys)], axis=1)  # (np.hstack of 2-D arrays, without its wrapper)
        beta = inv @ (d.vtw2 @ y2)
        resid = y2 - d.v2 @ beta
        # the coefficients and variances as plain floats (tolist: the same numbers) for the per-model
        # arithmetic below; columns k.. are the straight lines of h
        (a_all, b_all), s2_all = beta.tolist(), ((w @ resid**2) / dof).tolist()
        if d.quad_inv is not None:
            qbeta = d.quad_inv @ (d.vtw @ ys)
            qresid = ys - d.v @ qbeta
            (qa_all, qb_all, _), qs2_all = qbeta.tolist(), ((w @ qresid**2) / d.quad_dof).tolist()
        inv2, quad_inv2 = d.line_inv2, d.quad_inv2
        q2, q = d.q2, d.q
        w_sum = d.w_sum
        inv11, quad_inv11 = d.line_inv11, d.quad_inv11
        out: list[tuple[float, float, float] | None] = [None] * k
        for j in range(k):
            a, b = a_all[j], b_all[j]
            s2j = s2_all[j]
            se_b = math.sqrt(max(s2j * inv11, 0.0))
            log_lim = math.log(limits[j])
            gap = log_lim - a
            # "rising": the slope above 2 standard errors, the weights counted as n/Σw points each
            # (the monitor reads "no estimate" as "no rising trend": a level step, not wear)
            if gap > 0 and (b <= 2 * se_b * d.n / w_sum or b <= 0):
                continue  # below the limit and no significant rise
            if b <= 0:
                out[j] = (0.0, 0.0, 0.0)
                continue
            est = max(gap, 0.0) / b
            unit = max(est, abs(gap) / b, 1e-6)
            models = [(a, b, inv2, s2j)]
            rate_err = 0.0
            if quad_inv2 is not None:
                b0, qs2j = qb_all[j], qs2_all[j]
                # current rate (slope at the last point) vs the window's average, less what the
                # current rate's own noise explains (on a true exponential the two differ by noise)
                rate_err = math.sqrt(max((b0 - b) ** 2 - qs2j * quad_inv11, 0.0))
                if b0 > 0:
                    models.append((qa_all[j], b0, quad_inv2, qs2j))
                if b0 > b:  # accelerating beyond noise: the rate ahead is higher
                    est = max(gap, 0.0) / (b + rate_err)
            low, high = est, est
            for m_a, m_b, m_inv, m_s2 in models:
                # at horizon T = u·g the log level is a + b·T, with variance
                # s2·(1 + i00 + 2·T·i01 + T²·i11) + obs_var + (rate_err·T)²: a quadratic in g
                c0 = q2 * m_s2 * (1.0 + m_inv[0][0]) + q2 * obs_var
                c1 = q2 * 2.0 * m_s2 * m_inv[0][1] * unit
                c2 = q2 * (m_s2 * m_inv[1][1] + rate_err * rate_err) * unit * unit
                # first horizon where each bound reaches the limit; none: est for the low, the end for the high
                up, down = _first_reaches(log_lim - m_a, m_b * unit, c0, c1, c2)
                if up is not None:
                    low = min(low, unit * up)
                high = max(high, unit * (down if down is not None else HORIZON_MAX))
            # the latest plausible crossing if the indicator stops accelerating: the straight line of h
            # at its slope's lower 90 % bound (:func:`_latest_crossing`)
            c, dd = a_all[k + j], b_all[k + j]
            d_low = dd - q * math.sqrt(max(s2_all[k + j] * inv11, 0.0))
            latest = (limits[j] - c) / d_low if d_low > 0 and limits[j] > c else math.inf
            high = max(min(high, latest), est)
            if gap > 0:
                # the accelerating model (1/h falling on a straight line) at the same level and rate
                # reaches the limit f times as soon: the estimate between the two, the low end its
                f = -math.expm1(-gap) / gap
                est *= math.sqrt(f)
                low *= f
            out[j] = (float(est * scale), float(low * scale), float(high * scale))
        return out

    def state_dict(self) -> dict:
        # the points as one packed run of (t, value) pairs: exact, and about half the JSON of a list
        state = {"window": self.window, "min_points": self.min_points,
                 "points": pack_floats(v for p in self.points for v in p)}
        if self.tiers:
            state.update({"tiers": self.tiers, "fold": self.fold,
                          "coarse": [pack_floats(v for b in tier for v in b) for tier in self.coarse],
                          "acc": pack_floats(v for acc in self._acc for v in acc)})
        return state

    @classmethod
    def from_state(cls, state: dict, tiers: int = 0) -> ExpTrend:
        """The trend ``state_dict`` saved. ``tiers``: for a state saved without tiers (before they
        existed, or by a trend that had none), the tiers to start empty; a state's own count wins."""
        tr = cls(state["window"], state["min_points"], state.get("tiers", tiers), state.get("fold", 8))
        points = state["points"]
        if isinstance(points, str):  # packed (since 2026-11-22); a list of pairs before
            flat = unpack_floats(points)
            if len(flat) % 2:
                raise ValueError("trend points: an odd number of packed values, not (t, value) pairs")
            points = zip(flat[0::2], flat[1::2], strict=True)
        tr.points.extend((float(a), float(b)) for a, b in points)
        if "coarse" in state:
            coarse, acc = state["coarse"], unpack_floats(state["acc"])
            if not isinstance(coarse, list) or len(coarse) != tr.tiers or len(acc) != 4 * tr.tiers:
                raise ValueError(f"trend tiers: expected {tr.tiers} tiers of bucket means and {4 * tr.tiers} sums")
            for i, packed in enumerate(coarse):
                flat = unpack_floats(packed)
                if len(flat) % 3:
                    raise ValueError("trend tiers: packed values are not (t, value, variance) triples")
                tr.coarse[i].extend(zip(flat[0::3], flat[1::3], flat[2::3], strict=True))
                tr._acc[i] = acc[4 * i:4 * i + 4]
        return tr
