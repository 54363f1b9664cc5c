"""Scratch variants of the NAB scalar detector, measured by ``bench/nab_scalars.py`` (2026-11-23).

:class:`Variant` is :class:`detectors.scalar.ScalarAnomaly` (``Variant()`` scores exactly as it does:
the row ``same_as_scalar``) with one or more changes, each written down before it was measured:

- ``rest_from_report``: the rest period counted from the alert that was reported (an alert during the
  rest does not restart it; ScalarAnomaly restarts it), ``rearm``: the next alert only once the score
  fell below this level;
- ``unsat``: the likelihood scores above the alert level resolved (monotone, below 1) instead of
  clipped at 1, spatial anomalies alone at 1 (``-1``: HTM's own scale, ``log(tail + 1e-10) / log(1e-10)``);
- ``super_margin``: the period is the multiple of the autocorrelation's period whose peak stands above
  its neighbouring multiples' by this margin (a week of days);
- ``remap``: when the range grows, the transition table and the level history are re-binned to it;
- ``winsor``: the averaged surprise enters the likelihood's history clipped at mean + ``winsor`` SD;
- ``ms_k``: a third stream, the context novelty of the means of blocks of ``ms_k`` values, with its
  own likelihood (``ms_short`` blocks averaged);
- ``kt``: additive smoothing of the transition probabilities (``kt`` per level: 1 Laplace, 0.5
  Krichevsky-Trofimov);
- ``bonf``: the larger of the context's and phase's likelihoods corrected for two tests (tail x 2);
- ``coarse``: a coarse phase history (blocks of ``coarse_k`` values, lowest and highest level) with
  its own likelihood (``own_*``) or its gap merged into the phase's as the smaller gap (``min_*``),
  for any cycle (``*_any``) or only those longer than the fine history holds (``*_long``; the adopted
  form is ``detectors/scalars_longcycle.py``).

:class:`Transformed` feeds ScalarAnomaly ``asinh(v)`` (levels over a log-like scale).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from detectors.periodic import MIN_PERIOD, LevelRing, estimate_period
from detectors.scalar import _LOG_TAIL, _MIN_STD, ScalarAnomaly, _add, _Channel, _GapLikelihood, _Likelihood
from detectors.scalars_longcycle import LongCycleAnomaly

_SQRT2 = math.sqrt(2.0)


def _log_tail(z: float) -> float:
    """log of the Gaussian upper tail at z, accurate far out (asymptotic for large z)."""
    if z < 5.0:
        return math.log(max(0.5 * math.erfc(z / _SQRT2), 1e-300))
    # log(phi(z)/z * (1 - 1/z^2 + 3/z^4))
    return -0.5 * z * z - math.log(z * math.sqrt(2 * math.pi)) + math.log(1 - 1 / z**2 + 3 / z**4)


def _super_period(levels, p: int, min_r: float, cycles: int, margin: float) -> int:
    """A multiple m p of the period p whose autocorrelation stands above those of (m-1) p and (m+1) p
    (by margin): the full cycle (a week of days), if it fits ``cycles`` times."""
    x = np.array(levels, dtype=float)
    x -= x.mean()
    n = len(x)
    sp = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(sp * np.conj(sp))[:n]
    if acf[0] <= 1e-12 * n:
        return p
    acf /= acf[0]
    def peak(lag: int) -> float:
        lo, hi = max(lag - 2, 1), min(lag + 3, n)
        return float(acf[lo:hi].max())
    best, best_r = p, -1.0
    m = 2
    while (m + 1) * p + 2 < n and m * p <= n // cycles:
        r = peak(m * p)
        if r >= min_r and r >= peak((m - 1) * p) + margin and r >= peak((m + 1) * p) + margin and r > best_r:
            best, best_r = m * p, r
        m += 1
    return best


class Variant(ScalarAnomaly):
    """ScalarAnomaly with the changes named in the module's docstring."""

    def __init__(self, *, unsat: float = 0.0, rest_from_report: bool = False, rearm: float | None = None,
                 coarse: str = "", coarse_k: int = 8, super_margin: float | None = None, remap: bool = False,
                 winsor: float = 0.0, ms_k: int = 0, ms_short: int = 10, kt: float = 0.0, bonf: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.super_margin = super_margin
        self.remap = remap
        self.winsor = winsor
        self.ms_k, self.ms_short = ms_k, ms_short
        self.kt, self.bonf = kt, bonf
        self.unsat, self.rest_from_report, self.rearm = unsat, rest_from_report, rearm
        self.coarse, self.coarse_k = coarse, coarse_k

    def _period(self, ch: _Channel) -> int:
        levels = ch.history.ordered()
        p = estimate_period(levels, self.seasonal_min_r, self.seasonal_periods + 1)
        if not p or self.super_margin is None:
            return p
        return _super_period(levels, p, self.seasonal_min_r, self.seasonal_periods + 1, self.super_margin)

    def _ms(self, ch: _Channel):
        if not hasattr(ch, "ms_sum"):
            ch.ms_sum, ch.ms_cnt, ch.ms_prev, ch.ms_table = 0.0, 0, None, {}
            ch.ms_lik = _Likelihood(self)
            ch.ms_lik.raw = deque(maxlen=self.ms_short)
            ch.ms_lik.block_size = max(self.long // self.ms_k // 25, 1)
            ch.ms_score = 0.0
        return ch

    def _ms_level(self, ch: _Channel, m: float) -> int:
        lo, hi = ch.lo, ch.hi
        if hi <= lo:
            return 0
        top = (1 << self.bits) - 1
        return min(max(int((m - lo) / (hi - lo) * (top + 1)), 0), top)

    def _ms_step(self, ch: _Channel, v: float, commit: bool) -> float | None:
        """L of the block completed by v (None: no block completes)."""
        self._ms(ch)
        if ch.ms_cnt + 1 < self.ms_k:
            return None
        m = (ch.ms_sum + v) / self.ms_k
        lv = self._ms_level(ch, m)
        if ch.ms_prev is None:
            if commit:
                ch.ms_prev = lv
            return None
        seen = ch.ms_table.get((ch.ms_prev, lv), 0)
        tot = ch.ms_table.get(ch.ms_prev, 0)
        surprise = 1.0 if seen == 0 else 1.0 - seen / tot
        avg = ch.ms_lik.average(surprise)
        n, s1, s2 = ch.ms_lik.totals
        L = None
        if n >= 1:
            mean = s1 / n
            std = max(math.sqrt(max(s2 / n - mean * mean, 0.0)), _MIN_STD)
            L = self._L((avg - mean) / std)
        if commit:
            ch.ms_lik.commit(surprise, avg)
            ch.ms_table[(ch.ms_prev, lv)] = seen + 1
            ch.ms_table[ch.ms_prev] = tot + 1
            ch.ms_prev = lv
        return L

    def _co(self, ch: _Channel):
        if not hasattr(ch, "c_lo"):
            ch.c_lo, ch.c_hi = LevelRing(self.seasonal_history), LevelRing(self.seasonal_history)
            ch.c_n, ch.c_min, ch.c_max, ch.c_period = 0, 0, 0, 0
            ch.c_phase = _GapLikelihood(self)
        return ch

    def _coarse_gap(self, ch: _Channel, level: int) -> int | None:
        if not self.coarse:
            return None
        self._co(ch)
        p = ch.c_period
        if not p:
            return None
        lo, hi = ch.c_lo, ch.c_hi
        size, nxt = lo.size, lo.next
        d = max(1, round(self.seasonal_tolerance * p))
        gap = None
        for k in range(1, self.seasonal_periods + 1):
            # the current block is not in the ring yet: back b = the b-th newest complete block
            if k * p + d > len(lo) or k * p - d < 1:
                break
            for back in range(k * p - d, k * p + d + 1):
                i = (nxt - back) % size
                a, b = lo.buf[i], hi.buf[i]
                g = a - level if level < a else (level - b if level > b else 0)
                if gap is None or g < gap:
                    gap = g
        return gap

    def _remap(self, ch: _Channel, v: float) -> None:
        lo, hi = ch.lo, ch.hi
        if not (v < lo or v > hi) or ch.n == 0:
            return
        nlo, nhi = min(lo, v), max(hi, v)
        top = (1 << self.bits) - 1
        if hi <= lo:
            centers = [lo] * (top + 1)
        else:
            w = (hi - lo) / (top + 1)
            centers = [lo + (i + 0.5) * w for i in range(top + 1)]
        lut = [min(max(int((c - nlo) / (nhi - nlo) * (top + 1)), 0), top) for c in centers]
        if lut == list(range(top + 1)):
            return
        table: dict[str, int] = {}
        for key, cnt in ch.table.items():
            if ">" in key:
                past, lv = key.split(">")
                nk = ",".join(str(lut[int(a)]) for a in past.split(",")) + ">" + str(lut[int(lv)])
            else:
                nk = ",".join(str(lut[int(a)]) for a in key.split(","))
            table[nk] = table.get(nk, 0) + cnt
        ch.table = table
        levels = [lut[a] for a in ch.levels]
        ch.levels.clear()
        ch.levels.extend(levels)
        L = np.array(lut, dtype=np.uint16)
        rings = [ch.history] + ([ch.c_lo, ch.c_hi] if hasattr(ch, "c_lo") else [])
        for r in rings:
            a = np.frombuffer(r.buf, dtype=np.uint16)
            a[:] = L[np.minimum(a, top)]
        if hasattr(ch, "c_lo") and ch.c_n:
            ch.c_min, ch.c_max = lut[ch.c_min], lut[ch.c_max]

    def _learn(self, ch: _Channel, v: float) -> None:
        if self.remap:
            self._remap(ch, v)
        super()._learn(ch, v)
        if self.ms_k:
            self._ms(ch)
            ch.ms_cnt += 1
            ch.ms_sum += v
            if ch.ms_cnt >= self.ms_k:
                ch.ms_cnt, ch.ms_sum = 0, 0.0
        if not self.coarse:
            return
        self._co(ch)
        level = ch.levels[-1]
        if ch.c_n == 0:
            ch.c_min = ch.c_max = level
        else:
            ch.c_min, ch.c_max = min(ch.c_min, level), max(ch.c_max, level)
        ch.c_n += 1
        if ch.c_n == self.coarse_k:
            ch.c_lo.append(ch.c_min)
            ch.c_hi.append(ch.c_max)
            ch.c_n = 0
            nb = len(ch.c_lo)
            if (ch.n // self.coarse_k) % self.seasonal_every == 0 and nb >= 4 * MIN_PERIOD:
                sig = ch.c_lo.ordered().astype(float) + ch.c_hi.ordered()
                cp = estimate_period(sig, self.seasonal_min_r, self.seasonal_periods + 1)
                if self.coarse.endswith("long") and cp * self.coarse_k <= self.seasonal_history // (self.seasonal_periods + 1):
                    cp = 0
                ch.c_period = cp

    def _ctx_L(self, ch: _Channel, avg: float) -> float | None:
        n, s1, s2 = ch.context.totals
        if n < 1:
            return None
        mean = s1 / n
        std = max(math.sqrt(max(s2 / n - mean * mean, 0.0)), _MIN_STD)
        return self._L((avg - mean) / std)

    def _phase_L(self, ch: _Channel, total: int) -> float | None:
        return self._gap_L(ch.phase, total)

    def _gap_L(self, ph, total: int) -> float | None:
        n, s1, s2 = ph.totals
        if n < max(self.warmup, 1):
            return None
        var = (s2 * n - s1 * s1) / (n * n)
        std = max(math.sqrt(max(var, 0.0)) / ph.scale, _MIN_STD)
        return self._L((total / ph.scale - s1 / n / ph.scale) / std)

    @staticmethod
    def _L(z: float) -> float:
        """log-scaled tail, unclipped above (1 = tail 1e-5)."""
        return max(0.0, math.log(math.exp(_log_tail(z)) + 1e-10) / _LOG_TAIL) if z < 5 else _log_tail(z) / _LOG_TAIL

    def _map(self, L: float) -> float:
        if self.unsat < 0:  # HTM's scale: log(tail + 1e-10) / log(1e-10)
            tail = math.exp(L * _LOG_TAIL) if L * _LOG_TAIL > -700 else 0.0
            return min(1.0, math.log(tail + 1e-10) / math.log(1e-10))
        if L < 0.99 or not self.unsat:
            return min(L, 1.0)
        # (0.99, 1): resolved above the alert level; spatial anomalies alone reach 1
        return 1.0 - 0.01 * math.exp(-(L - 0.99) / self.unsat)

    def _step(self, ch: _Channel, v: float, *, commit: bool) -> float:
        level = self._level(ch, v)
        seen_key, past_key = self._keys(ch, level)
        seen, total = ch.table.get(seen_key, 0), ch.table.get(past_key, 0)
        if self.kt:
            surprise = 1.0 - (seen + self.kt) / (total + self.kt * (1 << self.bits))
        else:
            surprise = 1.0 if seen == 0 else 1.0 - seen / total
        avg = ch.context.average(surprise)
        gap = self._phase_gap(ch, self._phase_level(ch, v, level))
        cgap = self._coarse_gap(ch, level)
        cgap_sum = None
        if self.coarse.startswith("min"):
            if cgap is not None:
                gap = cgap if gap is None else min(gap, cgap)
            cgap = None
        elif cgap is not None:
            cgap_sum = ch.c_phase.moving_sum(cgap)
        gap_sum = None if gap is None else ch.phase.moving_sum(gap)
        L = 0.0
        spatial = False
        likely = self._ctx_L(ch, avg)
        if ch.n >= self.warmup and likely is not None:
            L = likely
            if gap_sum is not None:
                Lp = self._phase_L(ch, gap_sum)
                if Lp is not None and self.bonf:
                    # two tests: the larger of two log-scaled tails, as the tail of the smaller p doubled
                    L = max(0.0, max(L, Lp) + math.log(2.0) / _LOG_TAIL)
                else:
                    L = max(L, Lp or 0.0)
            if cgap_sum is not None:
                L = max(L, self._gap_L(ch.c_phase, cgap_sum) or 0.0)
            margin = self.tolerance * (ch.hi - ch.lo)
            spatial = v > ch.hi + margin or v < ch.lo - margin
        if self.ms_k:
            Lm = self._ms_step(ch, v, commit)
            if Lm is not None and ch.n >= self.warmup and ch.ms_lik.totals[0] >= self.warmup // self.ms_k:
                L = max(L, Lm)
        score = 1.0 if spatial else self._map(L)
        alert = spatial or L >= self.alert_level
        resting = ch.rest_left > 0 or (self.rearm is not None and not getattr(ch, "armed", True))
        if resting:
            score = 0.0
        if commit:
            if self.winsor:
                n, s1, s2 = ch.context.totals
                if n >= 1:
                    mean = s1 / n
                    std = max(math.sqrt(max(s2 / n - mean * mean, 0.0)), _MIN_STD)
                    avg_c = min(avg, mean + self.winsor * std)
                else:
                    avg_c = avg
                ch.context.raw.append(surprise)
                _add(ch.context.blocks, ch.context.block_size, ch.context.totals, avg_c)
                if gap is not None:
                    ph = ch.phase
                    if gap_sum is not None:
                        n, s1, s2 = ph.totals
                        if n >= 1:
                            var = (s2 * n - s1 * s1) / (n * n)
                            std = max(math.sqrt(max(var, 0.0)), _MIN_STD * ph.scale)
                            gap_sum = min(gap_sum, int(math.floor(s1 / n + self.winsor * std)))
                    ph.commit(gap, gap_sum)
            else:
                ch.context.commit(surprise, avg)
                if gap is not None:
                    ch.phase.commit(gap, gap_sum)
            if cgap is not None:
                ch.c_phase.commit(cgap, cgap_sum)
            armed = getattr(ch, "armed", True)
            if self.rearm is not None:
                if alert and not resting and armed:
                    ch.rest_left, ch.armed = self.rest, False
                else:
                    ch.rest_left = max(ch.rest_left - 1, 0)
                    if L < self.rearm and not spatial:
                        ch.armed = True
            elif self.rest_from_report:
                ch.rest_left = self.rest if (alert and not resting) else max(ch.rest_left - 1, 0)
            else:
                ch.rest_left = self.rest if alert else max(ch.rest_left - 1, 0)
        return score


from detectors.scalars_longcycle import LongCycleAnomaly
class Transformed(ScalarAnomaly):
    """ScalarAnomaly fed ``asinh(v)``: levels over a log-like scale, the spatial anomaly too."""

    def score_one(self, x: dict[str, float]) -> float:
        return super().score_one({k: math.asinh(float(v)) for k, v in x.items()})

    def score_learn_one(self, x: dict[str, float]) -> float:
        return super().score_learn_one({k: math.asinh(float(v)) for k, v in x.items()})


VARIANTS: dict[str, Callable[[], Any]] = {
    "same_as_scalar": lambda: Variant(),  # must score as ScalarAnomaly
    "long_cycle": lambda: LongCycleAnomaly(),  # adopted (detectors/scalars_longcycle.py)
    "asinh": lambda: Transformed(),
    "rest_from_report": lambda: Variant(rest_from_report=True),
    "rest50_from_report": lambda: Variant(rest=50, rest_from_report=True),
    "rest0_rearm05": lambda: Variant(rest=0, rearm=0.5),
    "rest20_rearm05": lambda: Variant(rest=20, rearm=0.5),
    "unsat": lambda: Variant(unsat=1.0),
    "htm_scale": lambda: Variant(unsat=-1),
    "unsat_rest_from_report": lambda: Variant(unsat=1.0, rest_from_report=True),
    "super0": lambda: Variant(super_margin=0.0),
    "super05": lambda: Variant(super_margin=0.05),
    "super1": lambda: Variant(super_margin=0.1),
    "remap": lambda: Variant(remap=True),
    "winsor3": lambda: Variant(winsor=3.0),
    "winsor6": lambda: Variant(winsor=6.0),
    "tolerance02": lambda: Variant(tolerance=0.02),
    "tolerance10": lambda: Variant(tolerance=0.10),
    "ms2": lambda: Variant(ms_k=2),
    "ms3": lambda: Variant(ms_k=3),
    "ms4": lambda: Variant(ms_k=4),
    "ms6": lambda: Variant(ms_k=6),
    "ms8": lambda: Variant(ms_k=8),
    "ms4_short3": lambda: Variant(ms_k=4, ms_short=3),
    "laplace05": lambda: Variant(kt=0.5),
    "laplace1": lambda: Variant(kt=1.0),
    "laplace2": lambda: Variant(kt=2.0),
    "laplace4": lambda: Variant(kt=4.0),
    "bonferroni": lambda: Variant(bonf=True),
    "coarse_own_any": lambda: Variant(coarse="own_any"),
    "coarse_min_any": lambda: Variant(coarse="min_any"),
    "coarse4_min_any": lambda: Variant(coarse="min_any", coarse_k=4),
    "laplace2_ms3": lambda: Variant(kt=2.0, ms_k=3),
    "laplace1_ms3_rest_from_report": lambda: Variant(kt=1.0, ms_k=3, rest_from_report=True),
}
