"""Variants of the NAB scalar detector, scored on the whole corpus in one run (scratch measurements).

Each variant is a class (or a ``ScalarAnomaly`` with other settings) streamed over every NAB series
exactly as ``foreshock evaluate`` does (``evaluation.nab_corpus.stream_scores``: each value scored
before it is learnt, a fresh detector per series) and scored by ``evaluation.nab.score_corpus``.
A variant class here can also be given to the command itself:
``foreshock evaluate ../shared/datasets/nab --scalar-detector bench/nab_variants.py:NAME``.

    .venv/bin/python bench/nab_variants.py [--data DIR] [--jobs 2] [--per-series] [NAME ...]
    .venv/bin/python bench/nab_variants.py --cost no_phase adopted

Prints one row per variant (standard / reward low FP / reward low FN), with ``--per-series`` the
per-series raw standard score of the variants against the first one named; with ``--cost`` the time
per value against the first one named, measured in the same run, and the state's size.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from multiprocessing import get_context
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.periodic import MIN_PERIOD, estimate_period  # noqa: E402
from detectors.scalar import ScalarAnomaly, _Channel, _GapLikelihood, _Likelihood  # noqa: E402
from detectors.statepack import pack_floats  # noqa: E402
from evaluation.nab import Series as Scored  # noqa: E402
from evaluation.nab import score_corpus  # noqa: E402
from evaluation.nab_corpus import label_windows, stream_scores  # noqa: E402
from foreshock.datasets import read_series  # noqa: E402


class _OneLikelihood(ScalarAnomaly):
    """Base of the scratch variants that put both surprises into one likelihood (as the adopted
    detector's context stream); ``_surprise`` combines them."""

    def _surprise(self, ch: _Channel, level: int, surprise: float, commit: bool) -> float:
        raise NotImplementedError

    def _step(self, ch: _Channel, v: float, *, commit: bool) -> float:
        level = self._level(ch, v)
        seen_key, past_key = self._keys(ch, level)
        seen, total = ch.table.get(seen_key, 0), ch.table.get(past_key, 0)
        surprise = self._surprise(ch, level, 1.0 if seen == 0 else 1.0 - seen / total, commit)
        avg = ch.context.average(surprise)
        score = 0.0
        likely = ch.context.score(avg)
        if ch.n >= self.warmup and likely is not None:
            score = likely
            margin = self.tolerance * (ch.hi - ch.lo)
            if v > ch.hi + margin or v < ch.lo - margin:
                score = 1.0
        alert = score >= self.alert_level
        if ch.rest_left > 0:
            score = 0.0
        if commit:
            ch.context.commit(surprise, avg)
            ch.rest_left = self.rest if alert else max(ch.rest_left - 1, 0)
        return score


class SeasonalTable(_OneLikelihood):
    """Scratch: CAD's transition table with the level one period earlier in the context
    (``key``: "phase+prev" = that level and the previous one, "phase" = that level alone,
    "phase2" = that level and the next one a period earlier); the table is emptied when the period
    changes. ``combine`` with the context surprise: "mean", "max", "min", or "seasonal" (alone)."""

    def __init__(self, *, combine: str = "mean", key: str = "phase+prev", **kw: Any) -> None:
        super().__init__(**kw)
        self.combine, self.key = combine, key

    def _skeys(self, ch: _Channel, level: int) -> tuple[str, str]:
        p = ch.period
        ago = ch.history.buf[(ch.history.next - p) % ch.history.size]
        if self.key == "phase":
            past = f"{ago}"
        elif self.key == "phase+prev":
            past = f"{ago}|{ch.levels[-1] if ch.levels else ''}"
        else:
            past = f"{ago}|{ch.history.buf[(ch.history.next - p + 1) % ch.history.size] if p > 1 else ''}"
        return f"{past}>{level}", past

    def _surprise(self, ch: _Channel, level: int, surprise: float, commit: bool) -> float:
        if getattr(ch, "stable_period", None) != ch.period:
            ch.stable_period, ch.stable = ch.period, {}
        if not (ch.period and len(ch.history) >= ch.period):
            return surprise
        k1, k0 = self._skeys(ch, level)
        seen, total = ch.stable.get(k1, 0), ch.stable.get(k0, 0)
        ss = 1.0 if seen == 0 else 1.0 - seen / total
        return {"mean": (surprise + ss) / 2, "max": max(surprise, ss), "min": min(surprise, ss),
                "seasonal": ss}[self.combine]

    def _learn(self, ch: _Channel, v: float) -> None:
        if getattr(ch, "stable_period", None) != ch.period:
            ch.stable_period, ch.stable = ch.period, {}
        if ch.period and len(ch.history) >= ch.period:
            for key in self._skeys(ch, self._level(ch, v)):
                ch.stable[key] = ch.stable.get(key, 0) + 1
        super()._learn(ch, v)


class PhaseOne(_OneLikelihood):
    """Scratch: the adopted phase surprise (``dist`` "linear"), or 1 when the level was not seen at
    the phase ("binary") or only more than one level away ("binary1"), combined with the context
    surprise by "mean" or "max" into one likelihood."""

    def __init__(self, *, combine: str = "mean", dist: str = "linear", **kw: Any) -> None:
        super().__init__(**kw)
        self.combine, self.dist = combine, dist

    def _surprise(self, ch: _Channel, level: int, surprise: float, commit: bool) -> float:
        gap = self._phase_gap(ch, level)
        if gap is None:
            return surprise
        ss = gap / ((1 << self.bits) - 1)
        if self.dist == "binary":
            ss = 1.0 if gap > 0 else 0.0
        elif self.dist == "binary1":
            ss = 1.0 if gap > 1 else 0.0
        return (surprise + ss) / 2 if self.combine == "mean" else max(surprise, ss)


class _GapAnyHistory(_GapLikelihood):
    def score(self, total: int, least: int) -> float | None:
        return super().score(total, 1)


class PhaseAnyHistory(ScalarAnomaly):
    """Scratch: the adopted detector, but the phase likelihood scores from its first recorded sum
    (adopted: once it holds ``warmup`` of them, as the context's waits ``warmup`` values)."""

    def _learn(self, ch: _Channel, v: float) -> None:
        if type(ch.phase) is _GapLikelihood:
            ch.phase.__class__ = _GapAnyHistory
        super()._learn(ch, v)


class TwoCycles(ScalarAnomaly):
    """Scratch: a period among the lags that fit twice in the history (adopted: ``seasonal_periods``
    + 1 times, three)."""

    def _period(self, ch: _Channel) -> int:
        return estimate_period(ch.history.ordered(), self.seasonal_min_r, 2)


class _P2Edges:
    """Jain & Chlamtac's P² algorithm for an equiprobable histogram (CACM 1985, section 4):
    ``cells`` + 1 markers (heights ``q``, 1-based positions ``pos``) kept near the positions
    1 + i (N - 1) / cells of the N values seen, moved by piecewise-parabolic interpolation, updated
    every value, deterministic, 9 floats and 9 integers for 8 cells. Cumulative: every value seen
    counts equally (as the range does)."""

    def __init__(self, cells: int) -> None:
        self.b = cells
        self.q: list[float] = []
        self.pos: list[int] = []
        self.count = 0

    def edges(self) -> list[float] | None:
        return self.q[1:-1] if self.count > self.b else None

    def add(self, x: float) -> None:
        b, q, pos = self.b, self.q, self.pos
        self.count += 1
        if self.count <= b + 1:  # the first b + 1 values are the markers, sorted
            q.append(x)
            q.sort()
            if self.count == b + 1:
                pos[:] = list(range(1, b + 2))
            return
        if x < q[0]:
            q[0] = x
            k = 0
        elif x >= q[b]:
            q[b] = max(q[b], x)
            k = b - 1
        else:
            k = 0
            while x >= q[k + 1]:
                k += 1
        for i in range(k + 1, b + 1):
            pos[i] += 1
        n = self.count
        for i in range(1, b):
            d = 1 + i * (n - 1) / b - pos[i]
            if (d >= 1 and pos[i + 1] - pos[i] > 1) or (d <= -1 and pos[i - 1] - pos[i] < -1):
                s = 1 if d > 0 else -1
                qp = q[i] + s / (pos[i + 1] - pos[i - 1]) * (
                    (pos[i] - pos[i - 1] + s) * (q[i + 1] - q[i]) / (pos[i + 1] - pos[i])
                    + (pos[i + 1] - pos[i] - s) * (q[i] - q[i - 1]) / (pos[i] - pos[i - 1]))
                if not q[i - 1] < qp < q[i + 1]:
                    qp = q[i] + s * (q[i + s] - q[i]) / (pos[i + s] - pos[i])
                q[i] = qp
                pos[i] += s

    def state(self) -> dict[str, Any]:
        return {"q": pack_floats(self.q), "pos": list(self.pos), "count": self.count}


class _SampleEdges:
    """A bounded, deterministic sample of at most ``size`` values (float32), and edges recomputed
    from it every ``every`` values (every value while fewer than ``size`` were seen). Every
    ``stride``-th value is kept; when the sample is full, every other one is dropped and the stride
    doubles (a systematic sample of the whole history), or, once the stride is ``max_stride``, the
    oldest leaves (a sample of the last ``size * max_stride`` values). ``kind`` "rank": the values
    at ranks j/cells of the sample, j = 1..cells-1; "robust": equal-width levels between the 1st and
    99th percentile of the sample (values beyond go to the end levels); "central": the lowest level
    below the 1st percentile, the highest above the 99th, the others by rank between them."""

    def __init__(self, cells: int, size: int = 64, every: int = 64, max_stride: int = 0,
                 kind: str = "rank") -> None:
        self.cells, self.size, self.every, self.max_stride, self.kind = cells, size, every, max_stride, kind
        self.buf: list[float] = []
        self.stride = 1
        self.i = 0
        self.cut: list[float] | None = None

    def edges(self) -> list[float] | None:
        return self.cut

    def add(self, x: float) -> None:
        if self.i % self.stride == 0:
            self.buf.append(float(np.float32(x)))
            if len(self.buf) > self.size:
                if self.max_stride and self.stride >= self.max_stride:
                    del self.buf[0]
                else:
                    self.buf = self.buf[::2]
                    self.stride *= 2
        self.i += 1
        if self.i <= self.size or self.i % self.every == 0:
            s = sorted(self.buf)
            m = len(s)
            if self.kind == "rank":
                self.cut = [s[j * m // self.cells] for j in range(1, self.cells)]
            elif self.kind == "central":  # below the 1st pct, by rank between, above the 99th
                inner = self.cells - 2
                self.cut = np.quantile(s, [0.01] + [0.01 + 0.98 * j / inner for j in range(1, inner)]
                                       + [0.99]).tolist()
            else:
                lo, hi = np.quantile(s, [0.01, 0.99]).tolist()
                self.cut = [lo, hi]

    def state(self) -> dict[str, Any]:
        return {"buf": base64.b64encode(np.asarray(self.buf, "<f4").tobytes()).decode("ascii"),
                "stride": self.stride, "i": self.i, "cut": pack_floats(self.cut or [])}


class RankLevels(ScalarAnomaly):
    """Scratch: levels by rank (equal-frequency, from the distribution of the values seen so far)
    instead of equal width over the range. ``edges``: "p2" (P² histogram, updated every value),
    "sample" (a 64-value systematic sample of the whole history, edges recomputed every 64
    values), "window" (the same sample of the last 1,024 values: every 16th), "robust" (equal-width
    levels between the 1st and 99th percentile of the "sample" sample, clipped), "range" (the
    adopted levels: a check that this class reproduces ``adopted``). ``phase``: the phase history
    takes the same levels (True) or the adopted range levels (False: rank for the context only);
    ``context_rank`` False: the context keeps the range levels (rank for the phase only).
    Until the estimator has edges (9 values for P², 1 for a sample) the levels are by range.
    Edges that move are not undone in the transition table or the phase history: their entries
    keep the levels as they were quantised then (as the adopted levels, which move with the range);
    the spatial anomaly stays on the range (+5 %)."""

    def __init__(self, *, edges: str = "p2", phase: bool = True, context_rank: bool = True,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.edges, self.phase_rank, self.context_rank = edges, phase, context_rank

    def _est(self, ch: _Channel) -> Any:
        est = getattr(ch, "rank", None)
        if est is None:
            cells = 1 << self.bits
            est = ch.rank = {"p2": lambda: _P2Edges(cells), "sample": lambda: _SampleEdges(cells),
                             "window": lambda: _SampleEdges(cells, max_stride=16),
                             "robust": lambda: _SampleEdges(cells, kind="robust"),
                             "central": lambda: _SampleEdges(cells, kind="central"),
                             "range": lambda: None}[self.edges]()
        return est

    def _rank_level(self, ch: _Channel, v: float) -> int:
        est = self._est(ch)
        cut = est.edges() if est is not None else None
        if cut is None:
            return ScalarAnomaly._level(self, ch, v)
        if self.edges == "robust":
            lo, hi = cut
            top = (1 << self.bits) - 1
            if hi <= lo:
                return 0 if v <= lo else top
            return min(max(int((v - lo) / (hi - lo) * (top + 1)), 0), top)
        return bisect_left(cut, v)  # ties (a point mass) go to the lowest of their levels

    def _level(self, ch: _Channel, v: float) -> int:
        return self._rank_level(ch, v) if self.context_rank else ScalarAnomaly._level(self, ch, v)

    def _phase_level(self, ch: _Channel, v: float, level: int) -> int:
        return self._rank_level(ch, v) if self.phase_rank else ScalarAnomaly._level(self, ch, v)

    def _learn(self, ch: _Channel, v: float) -> None:  # the adopted, then the edges learn v
        super()._learn(ch, v)
        est = self._est(ch)
        if est is not None:
            est.add(v)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        for name, ch in self._channels.items():
            est = self._est(ch)
            state["channels"][name]["rank"] = est.state() if est is not None else None
        return state


class RankExtra(ScalarAnomaly):
    """Scratch (second round, after ``rank_*`` measured 52.7-53.3: equal-frequency levels spread
    a noisy bulk over every level, so the one-step surprise is high all the time and a spike lands
    in the top level, common by construction, and is no longer rare): the adopted detector
    unchanged, plus a third stream, the context novelty of rank levels (``edges`` as
    :class:`RankLevels`, at ``rank_bits`` bits) with its own table and its own likelihood; the
    score is the largest of the three likelihoods. The rank table holds at most
    2**rank_bits * (2**rank_bits + 1) entries (one-step context)."""

    def __init__(self, *, edges: str = "p2", rank_bits: int = 3, **kw: Any) -> None:
        super().__init__(**kw)
        self.edges, self.rank_bits = edges, rank_bits

    def _rk(self, ch: _Channel) -> Any:
        if not hasattr(ch, "rk"):
            cells = 1 << self.rank_bits
            ch.rk = {"p2": lambda: _P2Edges(cells), "window": lambda: _SampleEdges(cells, max_stride=16),
                     "sample": lambda: _SampleEdges(cells)}[self.edges]()
            ch.rk_levels, ch.rk_table, ch.rk_ctx = deque(maxlen=self.context), {}, _Likelihood(self)
        return ch.rk

    def _rlevel(self, ch: _Channel, v: float) -> int:
        cut = self._rk(ch).edges()
        return 0 if cut is None else bisect_left(cut, v)

    def _rkeys(self, ch: _Channel, level: int) -> tuple[str, str]:
        past = ",".join(map(str, ch.rk_levels))
        return f"{past}>{level}", past

    def _step(self, ch: _Channel, v: float, *, commit: bool) -> float:  # the adopted, plus the rank stream
        level = self._level(ch, v)
        seen_key, past_key = self._keys(ch, level)
        seen, total = ch.table.get(seen_key, 0), ch.table.get(past_key, 0)
        surprise = 1.0 if seen == 0 else 1.0 - seen / total
        avg = ch.context.average(surprise)
        rlevel = self._rlevel(ch, v)
        k1, k0 = self._rkeys(ch, rlevel)
        rseen, rtotal = ch.rk_table.get(k1, 0), ch.rk_table.get(k0, 0)
        rsurprise = 1.0 if rseen == 0 else 1.0 - rseen / rtotal
        ravg = ch.rk_ctx.average(rsurprise)
        gap = self._phase_gap(ch, level)
        gap_sum = None if gap is None else ch.phase.moving_sum(gap)
        score = 0.0
        likely = ch.context.score(avg)
        if ch.n >= self.warmup and likely is not None:
            score = max(likely, ch.rk_ctx.score(ravg) or 0.0)
            if gap_sum is not None:
                score = max(score, ch.phase.score(gap_sum, self.warmup) or 0.0)
            margin = self.tolerance * (ch.hi - ch.lo)
            if v > ch.hi + margin or v < ch.lo - margin:
                score = 1.0
        alert = score >= self.alert_level
        if ch.rest_left > 0:
            score = 0.0
        if commit:
            ch.context.commit(surprise, avg)
            ch.rk_ctx.commit(rsurprise, ravg)
            if gap is not None:
                ch.phase.commit(gap, gap_sum)
            ch.rest_left = self.rest if alert else max(ch.rest_left - 1, 0)
        return score

    def _learn(self, ch: _Channel, v: float) -> None:
        rk = self._rk(ch)
        rlevel = self._rlevel(ch, v)
        if len(ch.rk_levels) == self.context:
            for key in self._rkeys(ch, rlevel):
                ch.rk_table[key] = ch.rk_table.get(key, 0) + 1
        ch.rk_levels.append(rlevel)
        rk.add(v)
        super()._learn(ch, v)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        for name, ch in self._channels.items():
            self._rk(ch)
            state["channels"][name]["rank"] = {**ch.rk.state(), "levels": list(ch.rk_levels),
                                               "table": dict(ch.rk_table), **ch.rk_ctx.state()}
        return state


def _v(cls: type, **kw: Any) -> Any:
    return lambda: cls(**kw)


# the scratch variants' own defaults, as first measured: a period accepted at r >= 0.3, one period back
_R3 = {"seasonal_min_r": 0.3, "seasonal_periods": 1}

VARIANTS: dict[str, Any] = {
    "adopted": lambda: ScalarAnomaly(),
    "no_phase": _v(ScalarAnomaly, seasonal_history=0),  # the detector before the phase novelty
    # CAD's table with the level a period earlier in the context, one likelihood
    "table_mean": _v(SeasonalTable, **_R3),
    "table_max": _v(SeasonalTable, combine="max", **_R3),
    "table_min": _v(SeasonalTable, combine="min", **_R3),
    "table_alone": _v(SeasonalTable, combine="seasonal", **_R3),
    "table_phase": _v(SeasonalTable, key="phase", **_R3),
    "table_phase2": _v(SeasonalTable, key="phase2", **_R3),
    # the phase surprise (distance in levels, no table), one likelihood
    "phase_mean": _v(PhaseOne, **_R3),
    "phase_max": _v(PhaseOne, combine="max", **_R3),
    "phase_mean_binary": _v(PhaseOne, dist="binary", **_R3),
    "phase_mean_binary1": _v(PhaseOne, dist="binary1", **_R3),
    "phase_mean_2p": _v(PhaseOne, seasonal_min_r=0.3),
    "phase_mean_r5": _v(PhaseOne, seasonal_min_r=0.5, seasonal_periods=1),
    "phase_mean_tol24": _v(PhaseOne, seasonal_tolerance=1 / 24, **_R3),
    "phase_mean_tol96": _v(PhaseOne, seasonal_tolerance=1 / 96, **_R3),
    "phase_mean_h768": _v(PhaseOne, seasonal_history=768, **_R3),
    "phase_mean_h2048": _v(PhaseOne, seasonal_history=2048, **_R3),
    # the phase surprise with its own likelihood, the larger score (adopted: r 0.5, 2 periods)
    "phase_own_any_history": _v(PhaseAnyHistory),
    "phase_own_2_cycles": _v(TwoCycles),
    "phase_own_1p_r3": _v(ScalarAnomaly, **_R3),
    "phase_own_2p_r3": _v(ScalarAnomaly, seasonal_min_r=0.3),
    "phase_own_1p_r5": _v(ScalarAnomaly, seasonal_periods=1),
    "phase_own_2p_r7": _v(ScalarAnomaly, seasonal_min_r=0.7),
    "phase_own_tol24": _v(ScalarAnomaly, seasonal_tolerance=1 / 24),
    "phase_own_tol96": _v(ScalarAnomaly, seasonal_tolerance=1 / 96),
    "phase_own_h768": _v(ScalarAnomaly, seasonal_history=768),
    "phase_own_h2048": _v(ScalarAnomaly, seasonal_history=2048),
    # levels by rank instead of equal width over the range (written down before any was measured).
    # Measured (standard / low FP / low FN; adopted 63.1 / 53.8 / 68.1): rank_p2 52.8 / 50.0 / 55.4,
    # rank_p2_ctx 53.1 / 50.5 / 55.8, rank_sample 52.7 / 49.8 / 55.3, rank_sample_ctx 52.8 / 50.0 / 55.3,
    # rank_window 53.3 / 50.6 / 56.0, robust_range 57.3 / 53.6 / 60.1; second round rank_extra_p2
    # 62.8 / 53.3 / 67.9, rank_extra_p2_2bits 62.9 / 53.1 / 68.1, rank_extra_window 62.8 / 53.4 / 67.8;
    # third round rank_central 55.5 / 52.9 / 58.2, rank_p2_phase 62.0 / 52.5 / 67.0. Equal-frequency
    # levels put a noisy bulk on every level: the one-step surprise averages 0.6-0.7 (0.05-0.25 by
    # range) and its likelihood peaks at 0.66-0.75 on Twitter_volume_PFE and art_daily_jumpsdown,
    # never the 0.99 of an alert; a spike lands in the top level, common by construction.
    "rank_check_range": _v(RankLevels, edges="range"),  # must reproduce adopted
    "rank_p2": _v(RankLevels, edges="p2"),  # P2 histogram, every value; context and phase
    "rank_p2_ctx": _v(RankLevels, edges="p2", phase=False),  # same, context only
    "rank_sample": _v(RankLevels, edges="sample"),  # 64-value sample of the whole history, every 64
    "rank_sample_ctx": _v(RankLevels, edges="sample", phase=False),  # same, context only
    "rank_window": _v(RankLevels, edges="window"),  # 64-value sample of the last 1,024, every 64
    "robust_range": _v(RankLevels, edges="robust"),  # equal width over the sample's 1st-99th pct
    # second round (after the first measured): adopted + a rank-level context stream, own likelihood
    "rank_extra_p2": _v(RankExtra, edges="p2"),
    "rank_extra_p2_2bits": _v(RankExtra, edges="p2", rank_bits=2),
    "rank_extra_window": _v(RankExtra, edges="window"),
    # third round: the hybrid read the other way (rank between the 1st and 99th pct), rank for the phase only
    "rank_central": _v(RankLevels, edges="central"),
    "rank_p2_phase": _v(RankLevels, edges="p2", context_rank=False),
}
globals().update(VARIANTS)  # each variant by name, for --scalar-detector bench/nab_variants.py:NAME


def score_series(path: str, detector: Callable[[], Any]) -> tuple[str, Scored]:
    """One NAB file streamed through a fresh ``detector``: (its corpus key, the scored series)."""
    p = Path(path)
    s = read_series(p)
    windows = label_windows(p) or []
    scores = stream_scores(s, detector)
    spans = [(a.astype(object), b.astype(object)) for a, b in windows]
    return f"{p.parent.name}/{p.name}", Scored(s.timestamps.tolist(), scores.tolist(), spans)


def _one(job: tuple[str, str]) -> tuple[str, str, Scored]:
    name, path = job
    return (name, *score_series(path, VARIANTS[name]))


def score_all(names: list[str], paths: list[str], jobs: int,
              one: Callable[[tuple[str, str]], tuple[str, str, Scored]] = _one) -> dict[str, dict[str, Scored]]:
    """Every file scored by every variant in ``jobs`` processes (``one``: a (variant, path) job, as
    :func:`_one`), as ``{variant: {corpus key: scored series}}``, the keys in corpus order."""
    t0 = time.perf_counter()
    corpora: dict[str, dict[str, Scored]] = {n: {} for n in names}
    with get_context().Pool(jobs) as pool:
        for name, key, scored in pool.imap_unordered(one, [(n, p) for n in names for p in paths], chunksize=1):
            corpora[name][key] = scored
    print(f"{len(paths)} series, {len(names)} variants, {time.perf_counter() - t0:.1f} s")
    return {n: dict(sorted(c.items())) for n, c in corpora.items()}


def cost(paths: list[str], names: list[str], repeats: int = 3,
         variants: Mapping[str, Callable[[], Any]] | None = None) -> dict[str, Any]:
    """Time per value of ``score_learn_one`` over every series (in this process, the variants
    interleaved; the best of ``repeats``), and the JSON state of the longest series at its end;
    printed as a table and returned. ``variants``: name -> detector class (default: this file's)."""
    import json

    table = VARIANTS if variants is None else variants
    series = [read_series(Path(p)).values.tolist() for p in paths]
    n = sum(map(len, series))
    best = {name: float("inf") for name in names}
    for _ in range(repeats):
        for name in names:
            t0 = time.perf_counter()
            for values in series:
                det = table[name]()
                for v in values:
                    det.score_learn_one({"value": v})
            best[name] = min(best[name], time.perf_counter() - t0)
    longest = max(series, key=len)
    print(f"\ncost: {n} values, best of {repeats}; state of the longest series ({len(longest)} values)")
    print("| variant | µs per value | ratio | state JSON bytes |")
    print("|---|---|---|---|")
    rows = {}
    for name in names:
        det = table[name]()
        for v in longest:
            det.score_learn_one({"value": v})
        size = len(json.dumps(det.state_dict()))
        rows[name] = {"us_per_value": round(best[name] / n * 1e6, 2), "ratio": round(best[name] / best[names[0]], 3),
                      "state_bytes": size}
        print(f"| {name} | {rows[name]['us_per_value']:.1f} | {rows[name]['ratio']:.2f} | {size} |")
    return {"values": n, "repeats": repeats, "longest": len(longest), "rows": rows}


def chosen(ap: argparse.ArgumentParser, args: argparse.Namespace,
           variants: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The variants named on the command line (all by default) and the NAB-labelled files under
    ``args.data``; an unknown name or an empty corpus ends the run with the parser's error."""
    names = args.names or list(variants)
    unknown = [n for n in names if n not in variants]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(variants)}")
    paths = sorted(str(p) for p in Path(args.data, "data").glob("*/*.csv") if label_windows(p) is not None)
    if not paths:
        ap.error(f"no NAB-labelled series under {args.data}/data")
    return names, paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"variants (default: all): {', '.join(VARIANTS)}")
    default_data = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "nab"
    ap.add_argument("--data", default=str(default_data),
                    help="the NAB corpus (data/ and labels/); default ../shared/datasets/nab")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--per-series", action="store_true", help="print the per-series raw standard scores")
    ap.add_argument("--cost", action="store_true",
                    help="time the variants per value (the first as the baseline) and size their state, "
                    "instead of scoring them")
    args = ap.parse_args()
    names, paths = chosen(ap, args, VARIANTS)
    if args.cost:
        cost(paths, names)
        return 0
    corpora = score_all(names, paths, args.jobs)
    print("| variant | standard | reward low FP | reward low FN |")
    print("|---|---|---|---|")
    results = {}
    for n in names:
        r = results[n] = score_corpus(corpora[n])
        cells = " | ".join(f"{r[p].score:.1f}" for p in ("standard", "reward_low_fp", "reward_low_fn"))
        print(f"| {n} | {cells} |", flush=True)
    if args.per_series and len(names) > 1:
        ref = results[names[0]]["standard"].per_series
        for n in names[1:]:
            print(f"\n{n} - {names[0]} (raw standard, per series, changed only):")
            cur = results[n]["standard"].per_series
            for k in sorted(ref, key=lambda k: cur[k] - ref[k]):
                if abs(cur[k] - ref[k]) > 1e-9:
                    print(f"  {cur[k] - ref[k]:+7.3f}  {ref[k]:+7.3f} -> {cur[k]:+7.3f}  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
