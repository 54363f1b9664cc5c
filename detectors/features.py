"""Features of a vibration snapshot (vectorised numpy).

>>> import numpy as np
>>> t = np.arange(25600) / 25600
>>> f = time_features(np.sqrt(2) * np.sin(2 * np.pi * 50 * t))
>>> round(f["rms_g"], 3), round(f["crest"], 3)
(1.0, 1.414)
"""

from __future__ import annotations

import numpy as np

__all__ = ["time_features"]


def time_features(x: np.ndarray) -> dict[str, float]:
    """RMS, peak, peak-to-peak, crest factor, kurtosis (normal = 3) and skewness of ``x`` (in g)."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean()
    c = x - mean
    var = float(np.dot(c, c) / c.size)
    rms = float(np.sqrt(np.dot(x, x) / x.size))
    peak = float(np.max(np.abs(x)))
    std = np.sqrt(var)
    if std > 0:
        z = c / std
        z2 = z * z
        kurt = float(np.dot(z2, z2) / z.size)
        skew = float(np.dot(z2, z) / z.size)
    else:
        kurt, skew = 0.0, 0.0
    return {
        "rms_g": rms,
        "peak_g": peak,
        "p2p_g": float(x.max() - x.min()),
        "crest": peak / rms if rms > 0 else 0.0,
        "kurtosis": kurt,
        "skewness": skew,
    }
