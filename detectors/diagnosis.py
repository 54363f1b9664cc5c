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
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from detectors.envelope import SES, squared_envelope_spectrum
from detectors.shaft import shaft_fault, shaft_scores
from detectors.spectrum import Spectrum, estimate_speed_hz, refine_speed_hz
from detectors.types import MachineInfo, Snapshot, snapshot_problem

__all__ = ["FAMILY_MODE", "bearing_scores", "diagnose", "envelope_segment_s", "shaft_scores"]

FAMILY_MODE = {"bpfo": "outer_race", "bpfi": "inner_race", "bsf": "ball"}
_HARMONICS = 3
_INSEPARABLE = 0.03  # × shaft speed: closer to a shaft harmonic, a line cannot be told from it


def _line(ses: SES, family: str, h: float, f: float, tol: float) -> dict[str, Any]:
    found, amp = ses.peak_near(f, tol * f + ses.df)
    bg = ses.background_near(f, max(0.25 * f / max(h, 1), 10 * ses.df))
    return {"family": family, "harmonic": h, "expected_hz": round(f, 3), "freq_hz": round(found, 3),
            "amplitude": amp, "background": bg, "snr_db": round(10 * math.log10(max(amp, 1e-30) / bg), 2)}


def bearing_scores(ses: SES, shaft_hz: float, mult: dict[str, float], tol: float = 0.01,
                   sideband_weight: float = 0.25, cage_weight: float = 1.0, count_ambiguous: bool = False,
                   evidence: bool = True) -> dict[str, tuple[float, list[dict[str, Any]]]]:
    """Per family: (score, evidence lines).

    Score = mean over the first harmonics of their SNR in dB above the envelope background (lines
    below it count 0), plus ``sideband_weight`` × the mean SNR of the modulation sidebands (±1×
    shaft around BPFI, ±FTF around 2×BSF). A damaged ball passes in and out of the load zone with
    the cage, so its impacts are modulated at the cage frequency: the ball family's score is the
    larger of its BSF score and ``cage_weight`` × the mean SNR of FTF and 2×FTF (lines that are
    never shaft harmonics, unlike 2×BSF of some bearings, e.g. 3.99× on a 6203).

    Each line is the largest SES bin within ``tol`` of its expected frequency (plus one bin), not
    counting bins on a shaft harmonic (within two bins) or that are not a local maximum (the skirt
    of a shaft line) when the expected frequency is more than 2.5 bins from every shaft harmonic:
    at a fine enough resolution a peak on 5× is the shaft's, not BPFI = 4.95×'s. A line expected
    within 3 % of shaft speed of a shaft harmonic is *ambiguous* (shaft modulation explains it as
    well): listed, but counted only with ``count_ambiguous``, i.e. when the score is judged
    against the unit's own baseline (:mod:`detectors.features`), where its growth is the evidence.
    ``evidence=False`` returns the same scores without the evidence lines.
    """
    read = _read_families(ses, shaft_hz, mult, tol, sideband_weight, cage_weight, count_ambiguous)
    if read is None:
        return {}
    scores, lines = read
    return {fam: (score, lines(fam) if evidence else []) for fam, score in scores.items()}


def _read_families(ses: SES, shaft_hz: float, mult: dict[str, float], tol: float, sideband_weight: float,
                   cage_weight: float, count_ambiguous: bool
                   ) -> tuple[dict[str, float], Callable[[str], list[dict[str, Any]]]] | None:
    """:func:`bearing_scores` as every family's score and a function giving a family's evidence
    lines when they are wanted (:func:`diagnose` shows only the strongest family's, and only when
    it names it); None when no line is in the spectrum."""
    plan = _plan(float(shaft_hz), tuple(sorted(mult.items())), float(ses.freqs[-1] * 0.9),
                 sideband_weight > 0, cage_weight > 0)
    if plan is None:
        return None
    targets, f_exp, ambiguous, groups, reduce_plan = plan
    amp, floor, located = _read_lines(ses, f_exp, tol, shaft_hz)
    snr = np.maximum(10 * np.log10(np.maximum(amp, 1e-30) / floor), 0.0)
    if not count_ambiguous:
        snr = np.where(ambiguous, 0.0, snr)
    # the mean SNR of every (family, kind) group at once: one reduceat over the groups laid end to end
    order, starts, sizes, slot = reduce_plan
    means = (np.add.reduceat(snr[order], starts) / sizes).tolist()
    scores: dict[str, float] = {}
    for fam in ("bpfo", "bpfi", "bsf"):
        idx = groups[fam]
        if not idx["harmonic"]:
            continue
        score = means[slot[fam, "harmonic"]]
        if idx["sideband"]:
            score += sideband_weight * means[slot[fam, "sideband"]]
        if idx["cage"]:
            score = max(score, cage_weight * means[slot[fam, "cage"]])
        scores[fam] = score

    def lines(fam: str) -> list[dict[str, Any]]:
        idx = groups[fam]
        out = []
        for i in idx["harmonic"] + idx["sideband"] + idx["cage"]:
            _, kind, h, f = targets[i]
            name = fam if kind == "harmonic" else fam + "_sideband" if kind == "sideband" else "ftf"
            out.append({"family": name, "harmonic": h, "expected_hz": round(f, 3), "freq_hz": round(located(i), 3),
                        "amplitude": float(amp[i]), "background": float(floor[i]),
                        "snr_db": round(10 * math.log10(max(float(amp[i]), 1e-30) / float(floor[i])), 2),
                        **({"ambiguous": True} if ambiguous[i] else {})})
        return out

    return scores, lines


@lru_cache(maxsize=64)
def _plan(shaft_hz: float, mult_items: tuple[tuple[str, float], ...], fmax: float, sidebands: bool,
          cage: bool) -> tuple[list[tuple[str, str, float, float]], np.ndarray, np.ndarray,
                               dict[str, dict[str, list[int]]], tuple] | None:
    """The lines :func:`bearing_scores` reads for one speed and bearing: ``(targets, their
    frequencies, which are ambiguous, the targets' indices per family and kind, the same groups
    laid out for one reduceat)``. The same for
    every snapshot of a unit at a steady speed, so built once (targets are (family, kind,
    harmonic, frequency); kinds: harmonic, sideband, cage)."""
    mult = dict(mult_items)
    ftf = mult["ftf"] * shaft_hz
    targets: list[tuple[str, str, float, float]] = []
    for fam in ("bpfo", "bpfi", "bsf"):
        f0 = mult[fam] * shaft_hz
        targets += [(fam, "harmonic", h, h * f0) for h in range(1, _HARMONICS + 1) if h * f0 < fmax]
        side_f = shaft_hz if fam == "bpfi" else ftf if fam == "bsf" else 0.0
        if side_f > 0 and sidebands:
            centre = f0 if fam == "bpfi" else 2 * f0
            targets += [(fam, "sideband", 0, centre + sgn * side_f) for sgn in (-1, 1) if 0 < centre + sgn * side_f < fmax]
    if cage:
        targets += [("bsf", "cage", h, h * ftf) for h in (1, 2) if 0 < h * ftf < fmax]
    if not targets:
        return None
    f_exp = np.array([t[3] for t in targets])
    f_exp.flags.writeable = False
    # a line expected (almost) on a shaft harmonic is ambiguous: shaft modulation explains it as well
    ambiguous = np.abs(f_exp - np.round(f_exp / shaft_hz) * shaft_hz) < _INSEPARABLE * shaft_hz
    ambiguous.flags.writeable = False
    groups = {fam: {k: [i for i, t in enumerate(targets) if t[0] == fam and t[1] == k]
                    for k in ("harmonic", "sideband", "cage")} for fam in ("bpfo", "bpfi", "bsf")}
    # the non-empty groups laid end to end, for one reduceat: (target order, group starts, sizes,
    # (family, kind) -> the group's slot)
    nonempty = [(fam, k, g) for fam, kinds in groups.items() for k, g in kinds.items() if g]
    order = np.array([i for _, _, g in nonempty for i in g], dtype=np.intp)
    sizes = np.array([len(g) for _, _, g in nonempty], dtype=np.float64)
    starts = np.concatenate([[0], np.cumsum(sizes[:-1])]).astype(np.intp)
    slot = {(fam, k): j for j, (fam, k, _) in enumerate(nonempty)}
    for arr in (order, sizes, starts):
        arr.flags.writeable = False
    return targets, f_exp, ambiguous, groups, (order, starts, sizes, slot)


def _read_lines(ses: SES, f: np.ndarray, tol: float, shaft_hz: float
                ) -> tuple[np.ndarray, np.ndarray, Callable[[int], float]]:
    """(amplitude, background) of the SES line searched at each frequency in ``f``, and a function
    giving the frequency the ``j``-th line was found at (located only when asked: the evidence)."""
    n = ses.amp.size
    # where the lines are searched depends on the grid, not on the spectrum: worked out once per grid
    # when both the grid and the lines are fixed (read-only arrays: every SES of a snapshot length, and
    # the lines of a speed and bearing, :func:`_plan`), else for this spectrum alone
    if ses.freqs.flags.writeable or f.flags.writeable:
        i0, i1, bounds, separable, on_shaft, inside = _windows.__wrapped__(_Same(ses.freqs), _Same(f), n, tol, shaft_hz)
    else:
        i0, i1, bounds, separable, on_shaft, inside = _windows(_Same(ses.freqs), _Same(f), n, tol, shaft_hz)
    amp = ses.amp
    masked = amp
    if on_shaft is not None:  # some line is separable: only at a resolution finer than a fifth of the shaft speed
        # a line is a local maximum: the skirt of a shaft line next to it is not a defect line
        peak_bin = np.ones(n, dtype=bool)
        peak_bin[1:-1] = (amp[1:-1] >= amp[:-2]) & (amp[1:-1] >= amp[2:])
        masked = np.where(on_shaft | ~peak_bin, 0.0, amp)
    # the maxima of every search window at once: one reduceat over interleaved [start, end) bounds (a
    # 0 appended when the last window ends at the spectrum's end, where reduceat cannot start a stretch;
    # the windows' maxima are the same either way)
    peak_raw = np.maximum.reduceat(amp if inside else np.append(amp, 0.0), bounds)[0::2]
    peak = np.where(separable, np.maximum.reduceat(masked if inside else np.append(masked, 0.0), bounds)[0::2],
                    peak_raw) if on_shaft is not None else peak_raw

    def located(j: int) -> float:
        src = masked if separable[j] else amp
        return float(ses.freqs[int(i0[j]) + int(np.argmax(src[i0[j]:i1[j]]))])

    return peak, ses.background_at(f), located


class _Same:
    """A cache key equal only to a key of the very same object (which it holds, so that the object's
    id is not reused while the key is cached)."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and self.obj is other.obj


@lru_cache(maxsize=32)
def _windows(grid: _Same, lines: _Same, n: int, tol: float, shaft_hz: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, bool]:
    """Where :func:`_read_lines` searches each line of ``lines`` on the SES grid ``grid`` (``n`` bins):
    ``(first bin, end bin, both interleaved, which lines are separable from the shaft harmonics, which
    bins lie on a shaft harmonic or None when no line is separable, whether every bound is under n)``."""
    freqs: np.ndarray = grid.obj  # type: ignore[assignment]
    f: np.ndarray = lines.obj  # type: ignore[assignment]
    df = float(freqs[1] - freqs[0]) if freqs.size > 1 else 0.0
    half = np.maximum(tol * f + df, df)
    # (np.minimum/np.maximum, not np.clip: the same bounds at a fraction of its call overhead)
    i0 = np.minimum(np.maximum(np.searchsorted(freqs, f - half), 1), n - 1)
    i1 = np.maximum(np.minimum(np.maximum(np.searchsorted(freqs, f + half + 1e-9), 1), n), i0 + 1)
    separable = np.abs(f - np.round(f / shaft_hz) * shaft_hz) > 2.5 * df if shaft_hz > 0 and df > 0 \
        else np.zeros(f.size, dtype=bool)
    on_shaft = None
    if separable.any():
        on_shaft = np.abs(freqs - np.round(freqs / shaft_hz) * shaft_hz) <= 2 * df
        on_shaft[0] = False
    bounds = np.empty(2 * f.size, dtype=np.intp)
    bounds[0::2], bounds[1::2] = i0, i1
    for arr in (i0, i1, bounds, separable, on_shaft):
        if arr is not None:
            arr.flags.writeable = False
    return i0, i1, bounds, separable, on_shaft, bool(bounds.size) and int(bounds.max()) < n


def diagnose(snapshot: Snapshot, machine: MachineInfo, *, min_score: float = 4.0, tol: float = 0.01,
             sideband_weight: float = 0.5, spectrum: Spectrum | None = None, checked: bool = False,
             ) -> tuple[str | None, float, list[dict[str, Any]]]:
    """Most likely failure mode of one record: ``(mode or None, confidence 0..1, evidence)``.

    Never raises on bad data: a record that cannot be assessed returns
    ``(None, 0.0, [{"reason": "cannot assess: ..."}])`` saying why (see
    :func:`detectors.types.snapshot_problem`; also a constant record). ``spectrum``: the record's
    :class:`Spectrum` when the caller has it already (:class:`detectors.UnitMonitor` does), not made again.
    ``checked``: the caller has found the record assessable (:func:`detectors.types.snapshot_problem`
    with its defaults, as here) and not constant (the monitor's sensor check calls that stuck), so
    neither is checked again.
    """
    if not checked:
        problem = snapshot_problem(snapshot)
        if problem is not None:
            return None, 0.0, [{"reason": f"cannot assess: {problem}"}]
    x = np.asarray(snapshot.samples, dtype=np.float64)
    fs = float(snapshot.fs)
    if not checked and float(np.ptp(x)) == 0.0:
        return None, 0.0, [{"reason": f"cannot assess: all {x.size} samples are equal (a constant record)"}]
    sp = spectrum if spectrum is not None else Spectrum.of(x, fs)
    rated_hz = machine.rated_rpm / 60 if machine.rated_rpm else None
    speed_ev: dict[str, Any] | None = None
    if snapshot.rpm:  # the stated speed, unless the shaft's own harmonics clearly contradict it
        shaft_hz, speed_ev = refine_speed_hz(x, fs, snapshot.rpm / 60, sp)
    else:
        shaft_hz = estimate_speed_hz(sp, rated_hz)
    if not shaft_hz or shaft_hz <= 0:
        return None, 0.0, [{"reason": "cannot assess: shaft speed unknown and not found in the spectrum"}]
    best = _diagnose_at(x, fs, sp, shaft_hz, machine, min_score, tol, sideband_weight)
    if speed_ev is not None:
        best = (best[0], best[1], best[2] + [speed_ev])
    return best


def _diagnose_at(x: np.ndarray, fs: float, sp: Spectrum, shaft_hz: float, machine: MachineInfo, min_score: float,
                 tol: float, sideband_weight: float) -> tuple[str | None, float, list[dict[str, Any]]]:
    """:func:`diagnose` at a known shaft speed."""
    best: tuple[str | None, float, list[dict[str, Any]]] = (None, 0.0, [])
    if machine.bearing is not None:
        mult = machine.bearing.multipliers()
        top_f = (_HARMONICS + 0.5) * max(mult["bpfi"], 2 * mult["bsf"]) * shaft_hz
        if top_f * 2 > fs / 2:
            return None, 0.0, [{"reason": f"cannot assess: sample rate {fs:g} Hz cannot resolve the defect "
                                          f"frequencies up to {top_f:.0f} Hz"}]
        ses = squared_envelope_spectrum(x, fs, min_bw_hz=top_f, segment_s=envelope_segment_s(mult, shaft_hz, x.size / fs),
                                        spectrum=sp)
        scores, family_lines = _read_families(ses, shaft_hz, mult, tol, sideband_weight, 1.0, False) or ({}, _no_lines)
        if scores:
            fam = max(scores, key=scores.__getitem__)
            s = scores[fam]
            if s >= min_score:  # the evidence lines of the family named, only when it is named
                total = sum(max(v, 0.0) for v in scores.values()) or 1.0
                strength = 1 - math.exp(-(s - min_score / 2) / min_score)
                conf = round(float(np.clip(strength * s / total * 1.5, 0.05, 0.99)), 3)
                ev = family_lines(fam) + [{"family": "summary", "scores": {k: round(v, 2) for k, v in scores.items()},
                                           "band_hz": ses.band_hz, "spectral_kurtosis": round(ses.kurtosis, 3)}]
                best = (FAMILY_MODE[fam], conf, ev)
    else:
        ses = squared_envelope_spectrum(x, fs, min_bw_hz=min(20 * shaft_hz, fs / 8), spectrum=sp)
        lines = _nonsynchronous_lines(ses, shaft_hz)
        if lines and lines[0]["snr_db"] >= 2 * min_score and ses.kurtosis > 0.5:
            best = ("bearing", round(min(0.3 + lines[0]["snr_db"] / 60, 0.8), 3), lines)
    if best[0] is None:
        mode, conf, ev = shaft_fault(sp, shaft_hz, machine)
        if mode is not None:
            best = (mode, round(conf, 3), ev)
    return best


def _no_lines(fam: str) -> list[dict[str, Any]]:
    return []


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


def envelope_segment_s(mult: dict[str, float], shaft_hz: float, record_s: float) -> float:
    """Envelope-spectrum segment long enough for 3 bins between each separable defect line and its
    nearest shaft harmonic, at least 1 s and at most the record."""
    return min(max(3.0 / _min_separation_hz(mult, shaft_hz), 1.0), record_s)


def _min_separation_hz(mult: dict[str, float], shaft_hz: float, inseparable: float = _INSEPARABLE) -> float:
    """Smallest distance from a defect line (BPFO, BPFI and its ±1× sidebands, 2×BSF) to a shaft
    harmonic, in Hz, among those at least ``inseparable`` × shaft speed apart (closer lines cannot
    be told apart from a shaft harmonic under a percent of slip and speed drift)."""
    orders = [mult["bpfo"], mult["bpfi"], mult["bpfi"] - 1, mult["bpfi"] + 1, 2 * mult["bsf"]]
    seps = [abs(o - round(o)) for o in orders]
    seps = [d for d in seps if d >= inseparable] or [0.5]
    return min(seps) * shaft_hz
