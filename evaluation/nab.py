"""The Numenta Anomaly Benchmark scorer, as NAB v1.1 computes it (``nab/sweeper.py``).

Each row of a series gets a *sweep score*: inside a labelled window, the scaled sigmoid of its
relative position (``-1`` at the window's first row, ``0`` just past its last) times the true-positive
weight; outside, the scaled sigmoid of its distance past the preceding window (in window widths)
times the false-positive weight (``-fp`` when no window precedes it). Rows in the probationary
period (the first ``min(floor(0.15 N), 750)`` rows) are not scored. A detection is a row whose
anomaly score is at or above a threshold; in a window only the first detection counts, a window
with none costs ``-fn``. One threshold per profile is optimised over the whole corpus, and the raw
score is normalised between the null detector (0) and the perfect detector (100).

>>> ts = list(range(100))
>>> windows = [(40, 49)]
>>> perfect = [1.0 if t == 40 else 0.0 for t in ts]
>>> score_corpus({"a": Series(ts, perfect, windows)})["standard"].score
100.0
>>> score_corpus({"a": Series(ts, [0.0] * 100, windows)})["standard"].score
0.0
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "PROFILES",
    "Profile",
    "ProfileResult",
    "Series",
    "probationary_length",
    "scaled_sigmoid",
    "score_by_threshold",
    "score_corpus",
    "sweep_scores",
]


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile."""

    tp: float
    fp: float
    fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_fp": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_fn": Profile(tp=1.0, fp=0.11, fn=2.0),
}


@dataclass(frozen=True)
class Series:
    """One scored series: row timestamps (any ordered values), anomaly scores, and label windows
    as ``(first, last)`` timestamps (inclusive)."""

    timestamps: Sequence
    scores: Sequence[float]
    windows: Sequence[tuple]

    def __post_init__(self) -> None:
        if len(self.timestamps) != len(self.scores):
            raise ValueError(f"{len(self.timestamps)} timestamps but {len(self.scores)} scores")


@dataclass
class ProfileResult:
    """The corpus result of one profile: normalised score, the optimised threshold, raw scores."""

    score: float
    threshold: float
    raw: float
    null: float
    perfect: float
    per_series: dict[str, float]
    tp: int
    fp: int
    fn: int


def scaled_sigmoid(position: float) -> float:
    """NAB's ``2 / (1 + exp(5 x)) - 1``, and ``-1`` beyond 3 window widths.

    >>> scaled_sigmoid(-1.0) > 0.98, scaled_sigmoid(0.0), scaled_sigmoid(3.5)
    (True, 0.0, -1.0)
    """
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probationary_length(n_rows: int, percent: float = 0.15) -> float:
    """Rows at the start that are not scored: ``min(floor(0.15 N), 0.15 * 5000)``."""
    return min(math.floor(percent * n_rows), percent * 5000)


def _window_indices(timestamps: Sequence, windows: Sequence[tuple]) -> list[tuple[int, int]]:
    out = []
    for start, end in windows:
        lo = bisect.bisect_left(timestamps, start)
        hi = bisect.bisect_right(timestamps, end) - 1
        if lo > hi:
            raise ValueError(f"label window {start} .. {end} holds no row of the series")
        out.append((lo, hi))
    out.sort()
    for (_, a_end), (b_start, _) in itertools.pairwise(out):
        if b_start <= a_end:
            raise ValueError("label windows overlap")
    return out


def sweep_scores(n_rows: int, windows: Sequence[tuple[int, int]], profile: Profile
                 ) -> tuple[list[float], list[int | None]]:
    """Per row: its weighted score if detected, and its window index (``None`` outside windows,
    ``-1`` in the probationary period). ``windows`` are ``(first_row, last_row)`` pairs."""
    max_tp = scaled_sigmoid(-1.0)
    prob = probationary_length(n_rows)
    scores: list[float] = [0.0] * n_rows
    names: list[int | None] = [None] * n_rows
    bounds = dict(enumerate(windows))
    starts = {lo: k for k, (lo, _) in bounds.items()}
    cur: int | None = None
    prev_right: int | None = None
    prev_width: float | None = None
    for i in range(n_rows):
        if cur is None and i in starts:
            cur = starts[i]
        if cur is not None:
            lo, hi = bounds[cur]
            width = float(hi - lo + 1)
            scores[i] = scaled_sigmoid(-(hi - i + 1) / width) * profile.tp / max_tp
        elif prev_right is None:
            scores[i] = -1.0 * profile.fp
        else:
            assert prev_width is not None
            # NAB divides by (width - 1); a one-row window would divide by zero there too.
            past = abs(prev_right - i) / max(prev_width - 1.0, 1e-12)
            scores[i] = scaled_sigmoid(past) * profile.fp
        names[i] = cur if i >= prob else -1
        if cur is not None and i == bounds[cur][1]:
            prev_right, prev_width = i, float(bounds[cur][1] - bounds[cur][0] + 1)
            cur = None
    return scores, names


def score_by_threshold(points: list[tuple[float, float, object]], profile: Profile
                       ) -> list[tuple[float, float, int, int, int]]:
    """Sweep the threshold down through ``(anomaly_score, sweep_score, window_key)`` points
    (window_key ``None`` outside windows). Returns ``(threshold, raw_score, tp, fp, fn)`` for every
    distinct threshold, counting points with ``anomaly_score >= threshold``; the first row is
    NAB's starting threshold 1.1 (nothing detected; higher if some score reaches 1.1)."""
    ordered = sorted(points, key=lambda p: p[0], reverse=True)
    window_score: dict[object, float] = {}
    for _, _, key in ordered:
        if key is not None:
            window_score[key] = -profile.fn
    fn = len(window_score)
    tp = fp = 0
    fp_score = 0.0
    detected: set[object] = set()
    tp_total = 0.0
    out: list[tuple[float, float, int, int, int]] = []
    threshold = 1.1 if not ordered or ordered[0][0] < 1.1 else ordered[0][0] + 1.0
    for anomaly, sweep, key in ordered:
        if anomaly != threshold:
            out.append((threshold, tp_total - profile.fn * fn + fp_score, tp, fp, fn))
            threshold = anomaly
        if key is None:
            fp += 1
            fp_score += sweep
        elif key not in detected:
            # rows come in descending anomaly score, so the best (earliest) detection in a window
            # is the maximum of its rows' sweep scores seen so far
            detected.add(key)
            window_score[key] = sweep
            tp_total += sweep
            tp += 1
            fn -= 1
        elif sweep > window_score[key]:
            tp_total += sweep - window_score[key]
            window_score[key] = sweep
    out.append((threshold, tp_total - profile.fn * fn + fp_score, tp, fp, fn))
    return out


def _points(corpus: Mapping[str, Series], profile: Profile) -> list[tuple[float, float, object]]:
    points: list[tuple[float, float, object]] = []
    for name, s in corpus.items():
        idx = _window_indices(list(s.timestamps), s.windows)
        sweep, keys = sweep_scores(len(s.scores), idx, profile)
        for a, w, k in zip(s.scores, sweep, keys):
            if k == -1:
                continue  # probationary
            points.append((float(a), w, None if k is None else (name, k)))
    return points


def _best(points: list[tuple[float, float, object]], profile: Profile) -> tuple[float, float, int, int, int]:
    rows = score_by_threshold(points, profile)
    return max(rows, key=lambda r: r[1])


def _score_at(points: list[tuple[float, float, object]], profile: Profile, threshold: float) -> float:
    """Raw score counting the points with ``anomaly_score >= threshold`` as detections."""
    windows: dict[object, float] = {}
    fp_score = 0.0
    for a, w, k in points:
        if k is not None:
            windows.setdefault(k, -profile.fn)
            if a >= threshold:
                windows[k] = max(windows[k], w)
        elif a >= threshold:
            fp_score += w
    return sum(windows.values()) + fp_score


def _null_and_perfect(corpus: Mapping[str, Series], profile: Profile) -> tuple[float, float]:
    null: dict[str, Series] = {}
    perfect: dict[str, Series] = {}
    for name, s in corpus.items():
        n = len(s.timestamps)
        null[name] = Series(s.timestamps, [0.0] * n, s.windows)
        starts = {lo for lo, _ in _window_indices(list(s.timestamps), s.windows)}
        perfect[name] = Series(s.timestamps, [1.0 if i in starts else 0.0 for i in range(n)], s.windows)
    return _best(_points(null, profile), profile)[1], _best(_points(perfect, profile), profile)[1]


def score_corpus(corpus: Mapping[str, Series], profiles: Mapping[str, Profile] = PROFILES
                 ) -> dict[str, ProfileResult]:
    """NAB scores of a corpus of series, one optimised threshold per profile."""
    results: dict[str, ProfileResult] = {}
    for pname, profile in profiles.items():
        points = _points(corpus, profile)
        threshold, raw, tp, fp, fn = _best(points, profile)
        null, perfect = _null_and_perfect(corpus, profile)
        per_series = {}
        for name in corpus:
            per_series[name] = _score_at(_points({name: corpus[name]}, profile), profile, threshold)
        span = perfect - null
        score = 100.0 * (raw - null) / span if span else 0.0
        results[pname] = ProfileResult(score=round(score, 6), threshold=threshold, raw=raw, null=null,
                                       perfect=perfect, per_series=per_series, tp=tp, fp=fp, fn=fn)
    return results
