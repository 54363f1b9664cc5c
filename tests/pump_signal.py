"""The simulated pump the end-to-end tests drive through a real pipeline: an SKF 6205 at 1,800 rpm
whose outer race fails (one snapshot helper instead of a copy per test module)."""

from __future__ import annotations

import numpy as np

FS, RPM = 25_600.0, 1_800.0
BEARING = {"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04, "contact_deg": 0.0}  # SKF 6205


def bpfo_hz() -> float:
    r = BEARING["ball_d"] / BEARING["pitch_d"]
    return BEARING["n_balls"] / 2 * (1 - r) * RPM / 60


def snapshot(rng: np.random.Generator, defect: float, n: int = 2_560) -> np.ndarray:
    """Acceleration in g: 1× shaft component, broadband noise and, with ``defect`` > 0, BPFO impacts
    ringing a 3.2 kHz resonance (an outer-race fault)."""
    t = np.arange(n) / FS
    x = 0.05 * np.sin(2 * np.pi * RPM / 60 * t) + rng.normal(0, 0.02, n)
    if defect > 0:
        ring = np.exp(-t[:200] * 900) * np.sin(2 * np.pi * 3200 * t[:200])
        period = FS / bpfo_hz()
        for k in np.arange(rng.uniform(0, period), n - 200, period):
            i = int(k)
            x[i : i + 200] += defect * ring
    return x.astype(np.float32)
