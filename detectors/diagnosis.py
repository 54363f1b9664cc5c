"""Name the most likely failure mode of one record, with a confidence and the evidence.

:func:`diagnose` works on a single record with no baseline (e.g. one steady CWRU recording):

- Bearing faults, when the geometry is known: each defect family (BPFO → outer race, BPFI →
  inner race, BSF → ball) is scored by how far its first harmonics rise above the local median
  of the squared envelope spectrum (:mod:`detectors.envelope`), searched within a speed
  tolerance; inner-race lines also count their ±1× shaft sidebands, ball lines their ±FTF
  sidebands. The strongest family above ``min_score`` wins.
- Without geometry a clear, non-synchronous periodicity in the envelope is reported as
  ``bearing`` (we do not guess which part).
- Shaft faults from the velocity spectrum: imbalance (a dominant 1×), misalignment (a large 2×
  relative to 1×), looseness (a long train of harmonics), judged only when the velocity is
  at least in ISO zone B (a healthy machine always has some 1×).

>>> import numpy as np
>>> from detectors.types import BearingGeometry, MachineInfo, Snapshot
>>> fs, rpm = 12000.0, 1800.0
>>> geo = BearingGeometry(9, 0.3126, 1.537)
>>> bpfo = geo.multipliers()["bpfo"] * rpm / 60
>>> t = np.arange(int(fs * 4)) / fs
>>> ring = np.exp(-600 * t[:300]) * np.sin(2 * np.pi * 3500 * t[:300])
>>> impulses = np.zeros(t.size); impulses[(np.arange(0, 4, 1 / bpfo) * fs).astype(int)] = 1.0
>>> x = np.convolve(impulses, ring)[: t.size] + np.random.default_rng(0).normal(0, 0.05, t.size)
>>> mode, conf, ev = diagnose(Snapshot(0, fs, x, rpm=rpm), MachineInfo(rated_rpm=rpm, bearing=geo))
>>> mode, conf > 0.5, ev[0]["family"]
('outer_race', True, 'bpfo')
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detectors.envelope import SES, squared_envelope_spectrum
from detectors.shaft import shaft_fault, shaft_scores
from detectors.spectrum import Spectrum, estimate_speed_hz
from detectors.types import MachineInfo, Snapshot

__all__ = ["FAMILY_MODE", "bearing_scores", "diagnose", "shaft_scores"]

FAMILY_MODE = {"bpfo": "outer_race", "bpfi": "inner_race", "bsf": "ball"}
_HARMONICS = 3


def _line(ses: SES, family: str, h: float, f: float, tol: float) -> dict[str, Any]:
    found, amp = ses.peak_near(f, tol * f + ses.df)
    bg = ses.background_near(f, max(0.25 * f / max(h, 1), 10 * ses.df))
    return {"family": family, "harmonic": h, "expected_hz": round(f, 3), "freq_hz": round(found, 3),
            "amplitude": amp, "background": bg, "snr_db": round(10 * math.log10(max(amp, 1e-30) / bg), 2)}


def bearing_scores(ses: SES, shaft_hz: float, mult: dict[str, float], tol: float = 0.01,
                   sideband_weight: float = 0.25, exclude_shaft_harmonics: bool = False,
                   evidence: bool = True) -> dict[str, tuple[float, list[dict[str, Any]]]]:
    """Per family: (score, evidence lines).

    Score = mean over the first harmonics of their SNR in dB above the envelope background (lines
    below it count 0), plus ``sideband_weight`` × the mean SNR of the modulation sidebands (±1×
    shaft around BPFI, ±FTF around 2×BSF). With ``exclude_shaft_harmonics`` a harmonic that falls
    within one bin (or 0.5 %) of a shaft harmonic is marked ``ambiguous`` and not counted, since
    shaft modulation explains it as well; a family with fewer than two unambiguous harmonics is
    not scored (e.g. BSF of a 6203 bearing is 1.99× shaft speed). ``evidence=False`` computes
    the same scores vectorised, without the evidence lines (the per-snapshot feature path).
    """
    fmax = ses.freqs[-1] * 0.9
    out: dict[str, tuple[float, list[dict[str, Any]]]] = {}
    if not evidence and not exclude_shaft_harmonics:
        return _fast_scores(ses, shaft_hz, mult, tol, sideband_weight, fmax)
    for fam in ("bpfo", "bpfi", "bsf"):
        f0 = mult[fam] * shaft_hz
        lines = [_line(ses, fam, h, h * f0, tol) for h in range(1, _HARMONICS + 1) if h * f0 < fmax]
        counted = lines
        if exclude_shaft_harmonics:
            for ln in lines:
                f = ln["expected_hz"]
                ln["ambiguous"] = abs(f - round(f / shaft_hz) * shaft_hz) < max(ses.df, 0.005 * f)
            counted = [ln for ln in lines if not ln["ambiguous"]]
            if len(counted) < 2:
                continue
        if not counted:
            continue
        score = sum(max(ln["snr_db"], 0.0) for ln in counted) / len(counted)
        side_f = shaft_hz if fam == "bpfi" else mult["ftf"] * shaft_hz if fam == "bsf" else 0.0
        if side_f > 0 and sideband_weight > 0:
            centre = f0 if fam == "bpfi" else 2 * f0
            sides = [_line(ses, fam + "_sideband", 0, centre + s * side_f, tol) for s in (-1, 1)
                     if 0 < centre + s * side_f < fmax]
            if sides:
                score += sideband_weight * sum(max(s["snr_db"], 0.0) for s in sides) / len(sides)
                lines += sides
        out[fam] = (score, lines)
    return out


def _fast_scores(ses: SES, shaft_hz: float, mult: dict[str, float], tol: float, sideband_weight: float,
                 fmax: float) -> dict[str, tuple[float, list[dict[str, Any]]]]:
    lines: list[tuple[str, float, int]] = []  # (family, frequency, 0 = harmonic / 1 = sideband)
    for fam in ("bpfo", "bpfi", "bsf"):
        f0 = mult[fam] * shaft_hz
        lines += [(fam, h * f0, 0) for h in range(1, _HARMONICS + 1) if h * f0 < fmax]
        side_f = shaft_hz if fam == "bpfi" else mult["ftf"] * shaft_hz if fam == "bsf" else 0.0
        if side_f > 0 and sideband_weight > 0:
            centre = f0 if fam == "bpfi" else 2 * f0
            lines += [(fam, centre + sgn * side_f, 1) for sgn in (-1, 1) if 0 < centre + sgn * side_f < fmax]
    if not lines:
        return {}
    fams, targets, kinds = zip(*lines)
    f = np.asarray(targets)
    half = np.maximum(tol * f + ses.df, ses.df)
    i0 = np.maximum(np.searchsorted(ses.freqs, f - half), 1)
    i1 = np.maximum(np.searchsorted(ses.freqs, f + half + 1e-9), i0 + 1)
    i1 = np.minimum(i1, ses.amp.size)
    # one reduceat over the interleaved [start, end) bounds: the maxima of every search window at once
    bounds = np.empty(2 * f.size, dtype=np.intp)
    bounds[0::2], bounds[1::2] = np.minimum(i0, ses.amp.size - 1), i1
    ext = np.append(ses.amp, 0.0)
    peaks = np.where(i1 > i0, np.maximum.reduceat(ext, bounds)[0::2], 0.0)
    centres, medians = ses._floor()
    floor = np.maximum(np.interp(f, centres, medians), 1e-30)
    snr = np.maximum(10 * np.log10(np.maximum(peaks, 1e-30) / floor), 0.0)
    out: dict[str, tuple[float, list[dict[str, Any]]]] = {}
    for fam in ("bpfo", "bpfi", "bsf"):
        harm = [v for v, fa, k in zip(snr, fams, kinds) if fa == fam and k == 0]
        if not harm:
            continue
        score = float(sum(harm)) / len(harm)
        sides = [v for v, fa, k in zip(snr, fams, kinds) if fa == fam and k == 1]
        if sides:
            score += sideband_weight * float(sum(sides)) / len(sides)
        out[fam] = (score, [])
    return out


def diagnose(snapshot: Snapshot, machine: MachineInfo, *, min_score: float = 4.0, tol: float = 0.01,
             sideband_weight: float = 0.5) -> tuple[str | None, float, list[dict[str, Any]]]:
    """Most likely failure mode of one record: ``(mode or None, confidence 0..1, evidence)``.

    Never raises on bad data: a record that cannot be assessed returns ``(None, 0.0, [reason])``.
    """
    x = np.asarray(snapshot.samples, dtype=np.float64)
    fs = float(snapshot.fs)
    if x.size < 256 or not np.all(np.isfinite(x)) or not fs > 0 or float(np.ptp(x)) == 0.0:
        return None, 0.0, [{"reason": "cannot assess: fewer than 256 samples, non-finite or constant"}]
    sp = Spectrum.of(x, fs)
    rated_hz = machine.rated_rpm / 60 if machine.rated_rpm else None
    shaft_hz = snapshot.rpm / 60 if snapshot.rpm else estimate_speed_hz(sp, rated_hz)
    if not shaft_hz or shaft_hz <= 0:
        return None, 0.0, [{"reason": "cannot assess: shaft speed unknown and not found in the spectrum"}]
    best: tuple[str | None, float, list[dict[str, Any]]] = (None, 0.0, [])
    if machine.bearing is not None:
        mult = machine.bearing.multipliers()
        top_f = (_HARMONICS + 0.5) * max(mult["bpfi"], 2 * mult["bsf"]) * shaft_hz
        if top_f * 2 > fs / 2:
            return None, 0.0, [{"reason": f"cannot assess: sample rate {fs:g} Hz cannot resolve the defect "
                                          f"frequencies up to {top_f:.0f} Hz"}]
        ses = squared_envelope_spectrum(x, fs, min_bw_hz=top_f)
        scores = bearing_scores(ses, shaft_hz, mult, tol=tol, sideband_weight=sideband_weight)
        if scores:
            fam = max(scores, key=lambda k: scores[k][0])
            s, lines = scores[fam]
            if s >= min_score:
                total = sum(max(v[0], 0.0) for v in scores.values()) or 1.0
                strength = 1 - math.exp(-(s - min_score / 2) / min_score)
                conf = round(float(np.clip(strength * s / total * 1.5, 0.05, 0.99)), 3)
                ev = lines + [{"family": "summary", "scores": {k: round(v[0], 2) for k, v in scores.items()},
                               "band_hz": ses.band_hz, "spectral_kurtosis": round(ses.kurtosis, 3)}]
                best = (FAMILY_MODE[fam], conf, ev)
    else:
        ses = squared_envelope_spectrum(x, fs, min_bw_hz=min(20 * shaft_hz, fs / 8))
        lines = _nonsynchronous_lines(ses, shaft_hz)
        if lines and lines[0]["snr_db"] >= 2 * min_score and ses.kurtosis > 0.5:
            best = ("bearing", round(min(0.3 + lines[0]["snr_db"] / 60, 0.8), 3), lines)
    if best[0] is None:
        mode, conf, ev = shaft_fault(sp, shaft_hz, machine)
        if mode is not None:
            best = (mode, round(conf, 3), ev)
    return best


def _nonsynchronous_lines(ses: SES, shaft_hz: float) -> list[dict[str, Any]]:
    """The strongest envelope lines between 2× and 12× shaft speed that are not shaft harmonics."""
    i0, i1 = np.searchsorted(ses.freqs, [2 * shaft_hz, min(12 * shaft_hz, ses.freqs[-1] * 0.9)])
    if i1 - i0 < 4:
        return []
    seg = ses.amp[i0:i1]
    order = np.argsort(seg)[::-1][:5]
    out = []
    for k in order:
        f = float(ses.freqs[i0 + k])
        ratio = f / shaft_hz
        if abs(ratio - round(ratio)) * shaft_hz <= 2 * ses.df:
            continue
        ln = _line(ses, "envelope", 0, f, 0.0)
        ln["order"] = round(ratio, 3)
        out.append(ln)
    return sorted(out, key=lambda d: -d["snr_db"])
