"""Shaft faults from the velocity spectrum: imbalance, misalignment, looseness.

What the vibration literature (e.g. ISO 18436-2 training material; Mobius / Technical Associates
charts; Taylor, *The Vibration Analysis Handbook*) gives as each fault's spectral pattern, with the
rule used here:

- **looseness** (mechanical looseness, rotating or structural): the response is non-linear — the
  part rattles, the waveform is truncated or clipped — so the spectrum shows a *long train* of
  shaft harmonics, often to 10× and beyond, and frequently *half orders* (0.5×, 1.5×, 2.5×) from
  the sub-harmonic response. Rule: at least 4 of the lines 3×..8× stand at ≥ 12 % of the largest
  of 1× and 2×, or 2 of them and 2 of the half orders 0.5×, 1.5×, 2.5× do; every counted line
  must stand ≥ 6 dB above the spectrum's background around it (a line, not broadband noise read
  at that frequency: at low speed the integration to velocity lifts the noise floor near 0.5×).
- **misalignment**: a bent coupling or angular/parallel offset bends the shaft twice per
  revolution: a high **2×** relative to 1× (above ~50-75 % and often above 1×), usually with 3×,
  and the train stops there (4× and above small), no half orders; strongest axially, which a
  single radial accelerometer cannot see. Rule: not looseness, and 2× ≥ 0.75 × 1× (a line).
- **imbalance**: a once-per-revolution force: 1× dominates (most of the velocity), little 2×.

The rules read line *shapes*, so they are judged only when the velocity is at least in ISO zone B
(:func:`shaft_fault`, one record, no history) or after the unit's monitor has found the orders
grown over its baseline (:func:`shaft_pattern`, used by :class:`detectors.UnitMonitor` to name a
shaft fault). Both share :func:`shaft_pattern`.

>>> import numpy as np
>>> from detectors.spectrum import Spectrum
>>> fs, fr = 5120.0, 5.0
>>> t = np.arange(16384) / fs
>>> def tones(amps):  # velocity amplitudes (mm/s) at orders of fr, as acceleration in g
...     return sum(v * 2 * np.pi * o * fr / 9806.65 * np.sin(2 * np.pi * o * fr * t + o) for o, v in amps.items())
>>> shaft_pattern(Spectrum.of(tones({1: 2.0, 2: 3.0, 3: 1.0}), fs), fr)[0]
'misalignment'
>>> loose = {1: 2.0, 1.5: 0.6, 2: 1.5, 2.5: 0.5, 3: 1.2, 4: 1.0, 5: 0.8, 6: 0.7, 7: 0.6, 8: 0.5}
>>> shaft_pattern(Spectrum.of(tones(loose), fs), fr)[0]
'looseness'
>>> shaft_pattern(Spectrum.of(tones({1: 4.0, 2: 0.3}), fs), fr)[0]
'imbalance'
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from detectors.iso import zone_limits
from detectors.spectrum import Spectrum
from detectors.types import MachineInfo

__all__ = ["shaft_fault", "shaft_pattern", "shaft_pattern_parts", "shaft_scores"]

_ORDERS = (0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8)
_ORDERS_ARR = np.asarray(_ORDERS, dtype=float)
_KEYS = tuple(f"{o:g}x" for o in _ORDERS)
_TRAIN = ("3x", "4x", "5x", "6x", "7x", "8x")
_HALF = ("0.5x", "1.5x", "2.5x")
TRAIN_SHARE = 0.12  # a harmonic counts when it reaches this share of the larger of 1x and 2x
LINE_DB = 6.0  # ... and stands this far above the background around it
MISALIGN_2X = 0.75  # 2x over 1x for misalignment


def shaft_scores(sp: Spectrum, shaft_hz: float) -> dict[str, float]:
    """Velocity amplitudes (mm/s) at 0.5×, 1×..8× shaft speed (and 1.5×, 2.5×), for the shaft-fault rules."""
    return dict(zip(_KEYS, sp.order_amplitudes_mm_s(shaft_hz, _ORDERS).tolist(), strict=True))


def _backgrounds_mm_s(sp: Spectrum, f: np.ndarray, shaft_hz: float) -> np.ndarray:
    """Velocity amplitude a bin of broadband background has near each frequency of ``f``: the
    median over ±0.25 order around it, leaving out ±4 bins at the line, scaled like a line's 3-bin
    main lobe. The windows are a few bins each: read in plain Python (a numpy call per window, or
    the padding to batch them, costs more than the medians); where they lie depends on the grid and
    the speed alone, worked out once (:func:`_background_windows`)."""
    memo = sp._grid()
    key = ("shaft_backgrounds", sp.fs, sp.n, shaft_hz, f.tobytes())
    plan = memo.get(key) if memo is not None else None
    if plan is None:
        plan = _background_windows(sp, f, shaft_hz)
        if memo is not None:
            memo[key] = plan
    top, f2, windows = plan
    # velocity-weighted power of bins 2..top-1 (bins 0, 1 never count)
    vel = [0.0, 0.0] + (sp.power[2:top] / f2).tolist() if top > 2 else []
    out = []
    for a0, a1, b0, b1 in windows:
        vals = sorted(vel[a0:a1] + vel[b0:b1])
        c = len(vals)
        out.append((vals[(c - 1) // 2] + vals[c // 2]) / 2 if c else 0.0)
    p = np.asarray(out) * f * f  # power at f, velocity-weighted
    return np.sqrt(2 * 3 * p) * 9806.65 / (2 * math.pi * f)


def _background_windows(sp: Spectrum, f: np.ndarray, shaft_hz: float
                        ) -> tuple[int, np.ndarray | None, list[tuple[int, int, int, int]]]:
    """Where :func:`_backgrounds_mm_s` reads: the end of the bins it reads (``top``), their squared
    frequencies from bin 2 (None when none), and per frequency of ``f`` the two stretches of bins
    ``[a0, a1)``, ``[b0, b1)`` around the line (the window ``[i0, i1)`` without the line's bins
    ``[k-4, k+5)``, bins 2..top-1 only)."""
    half = max(0.25 * shaft_hz, 6 * sp.df)
    m = f.size
    bounds = np.searchsorted(sp.freqs, np.concatenate([np.maximum(f - half, sp.df), f + half, f])).tolist()
    size = sp.power.size
    top = min(max(bounds[m:2 * m], default=0), size)
    windows = []
    for i0, i1, k in zip(bounds[:m], bounds[m:2 * m], bounds[2 * m:], strict=True):
        i0, i1 = max(i0, 2), min(i1, top)
        windows.append((max(i0, 0), max(min(k - 4, i1), i0), max(min(i1, k + 5), i0), i1))
    f2 = sp.freqs[2:top] ** 2 if top > 2 else None
    if f2 is not None:
        f2.flags.writeable = False
    return top, f2, windows


def shaft_pattern(sp: Spectrum, shaft_hz: float,
                  healthy: dict[str, float] | None = None) -> tuple[str | None, float, list[dict]]:
    """The shaft fault the *shape* of the order spectrum points to, with confidence and evidence.

    ``healthy``: the unit's own order amplitudes when it was healthy (mm/s by order key, e.g.
    ``{"1x": 1.2, "2x": 0.6}``). A fault adds its lines to the machine's own in quadrature (on
    average over their phases), so the shape judged is that of the excess,
    ``sqrt(a² - healthy²)``: early in a fault the healthy 1×, 2×, 3× still dominate the raw shape.
    No severity gate: the caller decides that the orders matter (ISO zone, or growth over baseline).
    """
    name, conf, orders, summary = shaft_pattern_parts(sp, shaft_hz, healthy)
    return name, conf, (orders() + [summary] if summary is not None else [])


def shaft_pattern_parts(sp: Spectrum, shaft_hz: float, healthy: dict[str, float] | None = None
                        ) -> tuple[str | None, float, Callable[[], list[dict]], dict | None]:
    """:func:`shaft_pattern` as ``(name, confidence, a function giving the evidence of every order,
    the summary or None)``: the evidence is ``orders() + [summary]`` (or none without a summary),
    the same lines; the orders' lines are made only when asked (the monitor, once it has named the
    fault, shows the summary alone)."""
    if not shaft_hz or shaft_hz <= 0 or 8 * shaft_hz >= sp.fs / 2:
        return None, 0.0, list, None
    amps = sp.order_amplitudes_mm_s(shaft_hz, _ORDERS)
    raw = dict(zip(_KEYS, amps.tolist(), strict=True))
    healthy = healthy or {}
    a = {k: math.sqrt(max(v * v - healthy.get(k, 0.0) ** 2, 0.0)) for k, v in raw.items()}
    backgrounds = _backgrounds_mm_s(sp, _ORDERS_ARR * shaft_hz, shaft_hz)
    snrs = (20 * np.log10(np.maximum(amps, 1e-12) / np.maximum(backgrounds, 1e-12))).tolist()
    line = {key: snr >= LINE_DB for key, snr in zip(_KEYS, snrs, strict=True)}

    def orders() -> list[dict]:
        ev: list[dict] = []
        for key, snr in zip(_KEYS, snrs, strict=True):
            e = {"family": "shaft", "order": key, "amplitude_mm_s": round(raw[key], 4), "snr_db": round(snr, 1)}
            if key in healthy:
                e["excess_mm_s"] = round(a[key], 4)
            ev.append(e)
        return ev

    one, two = a["1x"], a["2x"]
    top = max(one, two, 1e-9)
    train = [k for k in _TRAIN if line[k] and a[k] >= TRAIN_SHARE * top]
    halves = [k for k in _HALF if line[k] and a[k] >= TRAIN_SHARE * top]
    summary = {"family": "summary", "harmonic_train": train, "half_orders": halves,
               "ratio_2x_1x": round(two / max(one, 1e-9), 3)}
    if len(train) >= 4 or (len(halves) >= 2 and len(train) >= 2):
        conf = 0.5 + 0.06 * len(train) + 0.08 * len(halves)
        return "looseness", round(min(conf, 0.9), 3), orders, summary
    if two >= MISALIGN_2X * one and line["2x"]:
        conf = 0.5 + 0.2 * min(two / max(one, 1e-9) - MISALIGN_2X, 1.0) + (0.1 if line["3x"] else 0.0)
        return "misalignment", round(min(conf, 0.9), 3), orders, summary
    total = math.sqrt(sum(v * v for v in a.values()) / 2) or 1e-9  # RMS of the order lines
    if line["1x"] and one * one / 2 > 0.5 * total * total:
        return "imbalance", round(min(0.4 + 0.5 * one * one / 2 / total**2, 0.9), 3), orders, summary
    return None, 0.0, orders, summary


def shaft_fault(sp: Spectrum, shaft_hz: float, machine: MachineInfo) -> tuple[str | None, float, list[dict]]:
    """One record: the shaft fault, judged only when the velocity is at least in ISO zone B."""
    lo = 2.0 if machine.low_speed else 10.0
    v = sp.velocity_rms_mm_s(lo, 1000.0)
    limits = zone_limits(machine.iso_group, machine.foundation, machine.zone_limits_mm_s)
    if v < limits[0]:
        return None, 0.0, []
    mode, conf, ev = shaft_pattern(sp, shaft_hz)
    if mode == "imbalance":  # one record: 1x must carry most of the whole velocity, not only of the orders
        one = next(e["amplitude_mm_s"] for e in ev if e.get("order") == "1x")
        if not one * one / 2 > 0.5 * v * v:
            return None, 0.0, ev
        conf = round(min(0.4 + 0.5 * one * one / 2 / (v * v), 0.9), 3)
    return mode, conf, ev
