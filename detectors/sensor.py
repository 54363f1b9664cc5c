"""Faults of the measurement chain, recognised as such (not reported as machine faults).

``check_sensor(x, previous_fingerprint)`` returns ``(fault, reason)`` with ``fault`` one of
``stuck`` (constant signal, or the very same samples as the previous snapshot), ``dropout`` (a
run of exact zeros or repeated values covering part of the snapshot), ``saturation`` (the
amplifier or ADC clipped: a spike in the histogram at an extreme, :func:`clipped`) and ``spikes``
(single-sample excursions far above the robust scale whose neighbours, up to 3 samples away,
are quiet; a bearing defect's impulse rings over several samples, an electrical spike does not). ``(None, "")`` when none applies.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(0, 1, 2560)
>>> check_sensor(x)[0] is None
True
>>> check_sensor(np.clip(x, -1.5, 1.5))[0]
'saturation'
>>> check_sensor(np.clip(x, -2.8, 2.8))[0]  # 14 of 2,560 samples beyond ±2.8: clipped all the same
'saturation'
>>> y = x.copy(); y[[100, 900]] = 40.0
>>> check_sensor(y)[0]
'spikes'
>>> z = x.copy(); z[500:1200] = 0.0
>>> check_sensor(z)[0]
'dropout'
"""

from __future__ import annotations

import numpy as np

from detectors.robust import dot, median
from detectors.types import Samples

__all__ = ["check_sensor", "clipped", "fingerprint"]


def fingerprint(x: np.ndarray, samples: Samples | None = None) -> list[float]:
    """A compact identity of a snapshot (sum, sum of squares, first and last sample); ``samples``:
    ``x``'s reductions when the caller has them (the same sums)."""
    if samples is not None:
        return [float(samples.total), samples.sumsq, float(x[0]), float(x[-1])]
    return [float(x.sum()), dot(x, x), float(x[0]), float(x[-1])]


def _longest_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    padded = np.concatenate(([0], mask.astype(np.int8), [0]))
    d = np.diff(padded)
    return int((np.flatnonzero(d == -1) - np.flatnonzero(d == 1)).max())


def _levels_inside(x: np.ndarray, v: float, top: bool, levels: int) -> int:
    """The largest count of samples at one value among the ``levels`` distinct values next to the
    extreme ``v`` (below it for the maximum, ``top``; above it for the minimum)."""
    inside = x[x < v] if top else x[x > v]
    if inside.size == 0:
        return 0
    _, counts = np.unique(inside, return_counts=True)
    return int((counts[-levels:] if top else counts[:levels]).max())


def clipped(x: np.ndarray, hi: float | None = None, lo: float | None = None, *, least: int = 4,
            ratio: float = 4.0, levels: int = 3) -> tuple[int, float] | None:
    """``(count, value)`` of the samples stuck at an extreme of ``x`` by clipping, or None.

    Clipping maps every sample beyond the limit to the limit's very value: a spike in the histogram
    at the extreme, which no unclipped signal has. Where a signal turns at its extreme without
    clipping, its samples thin out towards the extreme (the tail of a noisy or impulsive signal) or
    gather at most as a sine gathers at its crest: a locally parabolic peak puts on average at most
    1 / (√2 − 1) ≈ 2.4 times as many samples in the quantisation level at the top as in the level
    next to it, whatever the amplitude, the frequency or the resolution. An extreme counts as
    clipped when at least ``least`` samples share its exact value and ``ratio`` times as many as
    any of the ``levels`` distinct values next to it (one side at a time: an offset or an asymmetric
    amplifier clips one side only). Measured on the simulator's saturation (8,192-sample snapshots):
    found on every snapshot with 16 or more samples clipped, on ~80 % of those with 8-15, rarely
    below (chance cannot be ruled out there); never on unclipped simulated faults peaking up to 99 %
    of the range, nor on CWRU or FEMTO snapshots except one CWRU record that is clipped
    (docs/detector-performance.md). A limiter followed by noise, whose clipped samples are not
    exactly equal, is not recognised.

    >>> t = np.arange(4096) / 4096
    >>> tone = np.round(np.sin(2 * np.pi * 7 * t) * 300) / 300   # a quantised tone: not clipped
    >>> clipped(tone) is None
    True
    >>> clipped(np.clip(tone * 1.05, -1.0, 1.0))
    (407, 1.0)
    """
    hi = float(x.max()) if hi is None else hi
    lo = float(x.min()) if lo is None else lo
    for v, top in ((hi, True), (lo, False)):
        at = int(np.count_nonzero(x == v))
        if at >= least and at >= ratio * _levels_inside(x, v, top, levels):
            return at, v
    return None


def check_sensor(x: np.ndarray, previous: list[float] | None = None, *, dropout_frac: float = 0.05,
                 clip_least: int = 4, clip_ratio: float = 4.0, spike_sigma: float = 12.0,
                 current: list[float] | None = None, samples: Samples | None = None) -> tuple[str | None, str]:
    """Classify a sensor fault in snapshot ``x`` (finite samples, in g).

    ``previous``: the previous snapshot's :func:`fingerprint`; ``current``: this one's, when the
    caller has computed it already (it keeps it for the next snapshot); ``samples``: ``x``'s
    reductions (its maximum, minimum and magnitudes), when the caller has them.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    hi, lo = (float(x.max()), float(x.min())) if samples is None else (samples.hi, samples.lo)
    if hi == lo:
        return "stuck", f"sensor stuck: all {n} samples equal {x[0]:g}"
    if previous is not None and (current if current is not None else fingerprint(x)) == previous:
        return "stuck", "sensor stuck: the snapshot repeats the previous one sample for sample"
    flat = x[1:] == x[:-1]
    run = _longest_run(flat) + 1
    if run >= max(dropout_frac * n, 16):
        return "dropout", f"signal dropout: {run} consecutive identical samples ({run / n:.0%} of the snapshot)"
    clip = clipped(x, hi, lo, least=clip_least, ratio=clip_ratio)
    if clip is not None:
        return "saturation", f"signal saturated: {clip[0]} samples at exactly the extreme {clip[1]:g} g"
    # robust centre and scale from every 4th sample: as good an estimate for this purpose, at a
    # quarter of the cost of two full medians (the spike test itself uses every sample)
    sub = x[::4] if n >= 1024 else x
    med = median(sub)
    scale = median(np.abs(sub - med)) * 1.4826
    if scale > 0:
        dev = np.abs(x - med)
        idx = np.flatnonzero(dev > spike_sigma * scale)
        if 0 < idx.size <= max(0.002 * n, 2):
            # the neighbours up to 3 samples away: a ring sampled at 4-6 samples per cycle can have
            # both samples beside its peak near zero crossings, never those 2 and 3 away as well
            near = np.max([dev[np.clip(idx + k, 0, n - 1)] for k in (-3, -2, -1, 1, 2, 3)], axis=0)
            isolated = near < 0.3 * dev[idx]
            if isolated.all():
                return "spikes", (f"sensor spikes: {idx.size} isolated sample(s) up to "
                                  f"{dev[idx].max() / scale:.0f} robust SD, neighbours quiet")
    return None, ""
