"""Features of a vibration snapshot (vectorised numpy): one flat dict of floats, units in the names.

Ingest stores these per snapshot; the detectors in :class:`detectors.UnitMonitor` watch them.

>>> import numpy as np
>>> t = np.arange(25600) / 25600
>>> f = time_features(np.sqrt(2) * np.sin(2 * np.pi * 50 * t))
>>> round(f["rms_g"], 3), round(f["crest"], 3)
(1.0, 1.414)
>>> from detectors.types import MachineInfo, Snapshot
>>> feats = snapshot_features(Snapshot(0, 25600, 0.01 * np.sin(2 * np.pi * 30 * t), rpm=1800), MachineInfo())
>>> round(feats["velocity_rms_mm_s"], 2), feats["iso_zone"], round(feats["v1x_mm_s"], 2)
(0.37, 0.0, 0.52)
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np

from detectors.diagnosis import bearing_scores
from detectors.envelope import squared_envelope_spectrum
from detectors.iso import zone_limits
from detectors.robust import dot
from detectors.spectrum import BAND_EDGES_HZ, Spectrum, estimate_speed_hz
from detectors.types import MachineInfo, Samples, Snapshot, snapshot_problem

__all__ = ["snapshot_features", "time_features", "velocity_band"]


def time_features(x: np.ndarray) -> dict[str, float]:
    """RMS, peak, peak-to-peak, crest factor, kurtosis (normal = 3) and skewness of ``x`` (in g)."""
    x = np.asarray(x, dtype=np.float64)
    c = x - x.mean()
    var = dot(c, c) / c.size
    return _time_features(x, c, var, dot(x, x), float(np.max(np.abs(x))), x.max(), x.min())


def _time_features(x: np.ndarray, c: np.ndarray, var: float, sumsq: float, peak: float, hi: Any, lo: Any
                   ) -> dict[str, float]:
    """:func:`time_features` from what it reads of ``x``: ``c = x - x.mean()``, ``var = c · c / n``,
    ``x · x``, the largest magnitude, the maximum and the minimum (a caller that has them passes them)."""
    rms = math.sqrt(sumsq / x.size)  # (math.sqrt and np.sqrt: both the correctly rounded root)
    std = math.sqrt(var)
    if std > 0:
        z = c / std
        z2 = z * z
        kurt = dot(z2, z2) / z.size
        skew = dot(z2, z) / z.size
    else:
        kurt, skew = 0.0, 0.0
    return {
        "rms_g": rms,
        "peak_g": peak,
        "p2p_g": float(hi - lo),
        "crest": peak / rms if rms > 0 else 0.0,
        "kurtosis": kurt,
        "skewness": skew,
    }


def velocity_band(machine: MachineInfo) -> tuple[float, float]:
    """The ISO 10816-3 velocity band: 10-1,000 Hz, or 2-1,000 Hz under 600 rpm."""
    return (2.0, 1000.0) if machine.low_speed else (10.0, 1000.0)


def snapshot_features(snapshot: Snapshot, machine: MachineInfo, *, band: tuple[float, float] | None = None,
                      spectrum: Spectrum | None = None, checked: bool = False,
                      samples: Samples | None = None) -> dict[str, float]:
    """All features of one snapshot (flat dict of finite floats, units in the names).

    Keys: the time features; ``velocity_rms_mm_s`` and ``iso_zone`` (0..3 for A..D);
    ``band_<lo>_<hi>_hz_g`` (acceleration RMS per band); ``shaft_hz`` and ``speed_estimated``
    (1.0 when the speed came from the spectrum); ``v1x_mm_s``, ``v2x_mm_s``, ``v3x_mm_s``;
    envelope: ``env_band_lo_hz``, ``env_band_hi_hz``, ``env_kurtosis`` and, with bearing geometry,
    ``bpfo_db``, ``bpfi_db``, ``bsf_db`` (family scores in dB above the envelope background).
    ``band`` fixes the envelope's demodulation band (Hz) instead of choosing it by spectral
    negentropy (the monitor chooses it at commissioning and re-checks it now and then: the
    choice is most of the cost). ``spectrum``: the snapshot's :meth:`Spectrum.of`, when the caller
    has it already. Raises ValueError for a snapshot that cannot be measured
    (empty, non-finite, bad rate, a band outside ``0 < lo < hi <= fs/2``); ``checked``: the caller
    has already passed it through :func:`detectors.types.snapshot_problem` (the monitor's step),
    so it is not checked twice; ``samples``: the snapshot's samples and their reductions, when the
    caller has them (:class:`detectors.types.Samples`: the monitor's sensor check reads them too).
    """
    # (the amplitude limit only where float64 power sums overflow: ingest measures what it stores)
    problem = None if checked else snapshot_problem(snapshot, min_samples=64, max_g=1e150)
    if problem is not None:
        raise ValueError(f"cannot measure the snapshot: {problem}")
    x = np.asarray(snapshot.samples, dtype=np.float64) if samples is None else samples.x
    fs = float(snapshot.fs)
    if band is not None and not (0 < band[0] < band[1] <= fs / 2):
        raise ValueError(f"envelope band must satisfy 0 < lo < hi <= fs/2 = {fs / 2:g} Hz, got {band!r}")
    if samples is None:
        feats = time_features(x)
        sp = spectrum if spectrum is not None else Spectrum.of(x, fs)
    else:
        sp = spectrum if spectrum is not None else Spectrum.of(x, fs, total=samples.total)
        # x less its mean: the spectrum's own (Spectrum.of subtracts the same mean, total / n)
        c = sp.centred if sp.centred is not None and sp.centred.size == x.size else x - samples.total / x.size
        feats = _time_features(x, c, dot(c, c) / c.size, samples.sumsq, samples.peak, samples.hi, samples.lo)
    lo, hi = velocity_band(machine)
    v = sp.velocity_rms_mm_s(lo, min(hi, fs / 2))
    feats["velocity_rms_mm_s"] = v
    limits = zone_limits(machine.iso_group, machine.foundation, machine.zone_limits_mm_s)
    feats["iso_zone"] = float(sum(v >= b for b in limits))
    edges, keys = _bands(fs)
    for key, rms in zip(keys, sp.bands_rms_g(edges), strict=True):
        feats[key] = rms
    rated_hz = machine.rated_rpm / 60 if machine.rated_rpm else None
    shaft_hz = snapshot.rpm / 60 if snapshot.rpm else estimate_speed_hz(sp, rated_hz)
    feats["speed_estimated"] = 0.0 if snapshot.rpm else 1.0
    if shaft_hz:
        feats["shaft_hz"] = float(shaft_hz)
        for o, amp in zip((1, 2, 3), sp.order_amplitudes_mm_s(shaft_hz, (1, 2, 3)).tolist(), strict=True):
            feats[f"v{o}x_mm_s"] = amp
    top_f = 0.0
    mult = machine.bearing.multipliers() if machine.bearing is not None else None
    if mult and shaft_hz:
        top_f = 3.5 * max(mult["bpfi"], 2 * mult["bsf"]) * shaft_hz
    if x.size >= 256:
        ses = squared_envelope_spectrum(x, fs, band=band, max_level=2, min_bw_hz=min(top_f, fs / 8), spectrum=sp)
        feats["env_band_lo_hz"], feats["env_band_hi_hz"] = ses.band_hz
        feats["env_kurtosis"] = ses.kurtosis
        if mult and shaft_hz and 2 * top_f < fs:
            for fam, (score, _) in bearing_scores(ses, shaft_hz, mult, tol=0.02, count_ambiguous=True, evidence=False).items():
                feats[f"{fam}_db"] = score
    return {k: float(v) for k, v in feats.items()}


@lru_cache(maxsize=16)
def _bands(fs: float) -> tuple[list[float], tuple[str, ...]]:
    """The band edges at a sample rate (:data:`BAND_EDGES_HZ` under Nyquist, then Nyquist) and the
    bands' feature names (read only)."""
    edges = [e for e in BAND_EDGES_HZ if e < fs / 2] + [fs / 2]
    return edges, tuple(f"band_{a:g}_{b:g}_hz_g" for a, b in pairwise(edges))
