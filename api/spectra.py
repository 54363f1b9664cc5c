"""Spectrum and envelope spectrum of a snapshot, with the defect-frequency markers, for the unit page.

Computed on request from the latest raw snapshot (numpy; the detectors' own spectrum and envelope
code, so the page shows what the detectors saw). Long spectra are reduced to at most ``max_points``
by keeping each bucket's maximum, so peaks survive.

>>> import numpy as np
>>> from detectors.types import MachineInfo, Snapshot, BearingGeometry
>>> fs = 10000.0; t = np.arange(10000) / fs
>>> snap = Snapshot(ts=0, fs=fs, samples=np.sin(2 * np.pi * 25 * t), rpm=1500)
>>> out = spectra(snap, MachineInfo(rated_rpm=1500, bearing=BearingGeometry(9, 7.94, 39.04)))
>>> out["shaft_hz"], [m["label"] for m in out["markers"]][:3]
(25.0, ['1×', '2×', '3×'])
>>> round(out["spectrum"]["freqs"][int(np.argmax(out["spectrum"]["amp_g"]))])
25
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.types import MachineInfo, Snapshot

__all__ = ["markers", "reduce_peaks", "spectra"]


def reduce_peaks(freqs: np.ndarray, amp: np.ndarray, max_points: int) -> tuple[list[float], list[float]]:
    """At most ``max_points`` (frequency, amplitude) pairs: the maximum of each bucket.

    >>> reduce_peaks(np.arange(6.0), np.array([0, 5, 1, 1, 9, 0.0]), 3)
    ([1.0, 2.0, 4.0], [5.0, 1.0, 9.0])
    """
    if freqs.size <= max_points:
        return freqs.astype(float).tolist(), amp.astype(float).tolist()
    n = freqs.size // max_points * max_points
    step = freqs.size // max_points
    a = amp[:n].reshape(-1, step)
    k = np.argmax(a, axis=1) + np.arange(a.shape[0]) * step
    return freqs[k].astype(float).tolist(), amp[k].astype(float).tolist()


def markers(shaft_hz: float | None, machine: MachineInfo | None, limit_hz: float) -> list[dict[str, Any]]:
    """1×, 2×, 3× shaft speed and the bearing defect frequencies (and their 2nd harmonics)."""
    if not shaft_hz or shaft_hz <= 0:
        return []
    out: list[dict[str, Any]] = [{"label": f"{k}×", "kind": "shaft", "freq_hz": k * shaft_hz} for k in (1, 2, 3)]
    if machine is not None and machine.bearing is not None:
        for name, mult in machine.bearing.multipliers().items():
            for h in (1, 2):
                out.append({"label": name.upper() if h == 1 else f"{h}×{name.upper()}", "kind": name,
                            "freq_hz": h * mult * shaft_hz})
    return [m for m in out if float(m["freq_hz"]) < limit_hz]


def _shaft_hz(snap: Snapshot, machine: MachineInfo | None, sp: Any) -> float | None:
    if snap.rpm:
        return snap.rpm / 60.0
    rated = machine.rated_rpm / 60.0 if machine is not None and machine.rated_rpm else None
    try:
        from detectors.spectrum import estimate_speed_hz

        return estimate_speed_hz(sp, rated) or rated
    except ImportError:  # pragma: no cover - detectors always ship it
        return rated


def spectra(snap: Snapshot, machine: MachineInfo | None = None, *, max_points: int = 2000,
            envelope_max_hz: float = 1000.0) -> dict[str, Any]:
    """Spectrum (g amplitude), squared envelope spectrum and markers of ``snap``."""
    from detectors.envelope import squared_envelope_spectrum
    from detectors.spectrum import Spectrum

    x = np.asarray(snap.samples, dtype=np.float64)
    if x.size < 64:
        raise ValueError(f"the latest vibration snapshot has {x.size} samples, too few for a spectrum (at least 64; "
                         "2,560 or more recommended, see docs/device-protocol.md)")
    if not np.all(np.isfinite(x)):  # ingest refuses them; a snapshot put here by other means
        raise ValueError("the latest vibration snapshot contains NaN or infinite samples")
    sp = Spectrum.of(x, snap.fs)
    shaft = _shaft_hz(snap, machine, sp)
    f, a = reduce_peaks(sp.freqs, np.sqrt(2 * sp.power), max_points)
    ses = squared_envelope_spectrum(x, snap.fs)
    keep = ses.freqs <= envelope_max_hz
    ef, ea = reduce_peaks(ses.freqs[keep], ses.amp[keep], max_points)
    out: dict[str, Any] = {
        "ts": snap.ts, "fs": snap.fs, "n": int(x.size), "axis": snap.axis, "rpm": snap.rpm,
        "shaft_hz": shaft,
        "spectrum": {"freqs": f, "amp_g": a, "df": sp.df},
        "envelope": {"freqs": ef, "amp": ea, "band_hz": list(ses.band_hz), "kurtosis": ses.kurtosis},
        "markers": markers(shaft, machine, snap.fs / 2),
    }
    try:
        out["velocity_rms_mm_s"] = sp.velocity_rms_mm_s(10.0, 1000.0)
    except (ValueError, ZeroDivisionError):
        out["velocity_rms_mm_s"] = None
    return out
