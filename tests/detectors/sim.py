"""Synthetic snapshots for the monitor tests: a running machine, a growing defect, operating changes."""

from __future__ import annotations

import numpy as np

from detectors.types import BearingGeometry, Snapshot

FS, N, RPM = 25600.0, 2560, 1800.0
GEO = BearingGeometry(9, 0.3126, 1.537)


def machine_signal(rng: np.random.Generator, *, gain: float = 1.0, defect: float = 0.0, rpm: float = RPM,
                   family: str = "bpfo") -> np.ndarray:
    """A healthy machine (1x, 2x, broadband noise) plus an optional bearing defect of amplitude ``defect`` g."""
    t = np.arange(N) / FS
    fr = rpm / 60
    phase = rng.uniform(0, 2 * np.pi, 2)
    x = 0.02 * np.sin(2 * np.pi * fr * t + phase[0]) + 0.008 * np.sin(2 * np.pi * 2 * fr * t + phase[1])
    x = x + rng.normal(0, 0.05, N)
    if defect > 0:
        rate = GEO.multipliers()[family] * fr
        ring = np.exp(-900 * t[:200]) * np.sin(2 * np.pi * 5000 * t[:200])
        imp = np.zeros(N)
        start = rng.uniform(0, 1 / rate)
        imp[((np.arange(start, N / FS, 1 / rate)) * FS).astype(int)] = defect
        x = x + np.convolve(imp, ring)[:N]
    return gain * x


def snap(ts: float, x: np.ndarray, rpm: float | None = RPM) -> Snapshot:
    return Snapshot(ts=ts, fs=FS, samples=x.astype(np.float32), rpm=rpm)


def feed(mon, rng: np.random.Generator, t: float, n: int, step_s: float = 3600.0, **signal) -> tuple[float, list]:
    """``n`` snapshots of :func:`machine_signal` (``signal``: its keywords) every ``step_s`` after ``t``:
    the time of the last, and the assessments."""
    seen = []
    for _ in range(n):
        t += step_s
        seen.append(mon.update_snapshot(snap(t, machine_signal(rng, **signal))))
    return t, seen
