"""Faults of the measurement chain, recognised as such (not reported as machine faults).

``check_sensor(x, previous_fingerprint)`` returns ``(fault, reason)`` with ``fault`` one of
``stuck`` (constant signal, or the very same samples as the previous snapshot), ``dropout`` (a
run of exact zeros or repeated values covering part of the snapshot), ``saturation`` (many
samples at the extreme value: the amplifier or ADC clipped) and ``spikes`` (single-sample
excursions far above the robust scale whose neighbours are quiet; a bearing defect's impulse
rings over several samples, an electrical spike does not). ``(None, "")`` when none applies.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(0, 1, 2560)
>>> check_sensor(x)[0] is None
True
>>> check_sensor(np.clip(x, -1.5, 1.5))[0]
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

__all__ = ["check_sensor", "fingerprint"]


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


def check_sensor(x: np.ndarray, previous: list[float] | None = None, *, dropout_frac: float = 0.05,
                 clip_frac: float = 0.01, spike_sigma: float = 12.0,
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
    peak = max(hi, -lo)
    at_peak = int(np.count_nonzero((np.abs(x) if samples is None else samples.magnitude) >= peak * (1 - 1e-4)))
    if at_peak >= max(clip_frac * n, 4):
        return "saturation", f"signal saturated: {at_peak} samples at the extreme {peak:g} g"
    # robust centre and scale from every 4th sample: as good an estimate for this purpose, at a
    # quarter of the cost of two full medians (the spike test itself uses every sample)
    sub = x[::4] if n >= 1024 else x
    med = median(sub)
    scale = median(np.abs(sub - med)) * 1.4826
    if scale > 0:
        dev = np.abs(x - med)
        idx = np.flatnonzero(dev > spike_sigma * scale)
        if 0 < idx.size <= max(0.002 * n, 2):
            left = dev[np.maximum(idx - 1, 0)]
            right = dev[np.minimum(idx + 1, n - 1)]
            isolated = (np.maximum(left, right) < 0.3 * dev[idx])
            if isolated.all():
                return "spikes", (f"sensor spikes: {idx.size} isolated sample(s) up to "
                                  f"{dev[idx].max() / scale:.0f} robust SD, neighbours quiet")
    return None, ""
