"""Frequency-domain features of one snapshot: velocity RMS, band energies, shaft orders, speed.

Velocity is obtained by integrating in the frequency domain (divide the acceleration spectrum by
``j·2πf``) and summing the power in the ISO 10816-3 / 20816-3 band: 10–1,000 Hz, or 2–1,000 Hz
for machines under 600 rpm. A Hann window is used and the power is corrected for the window's
energy, so a tone's RMS is right whether or not it falls on a bin.

>>> import numpy as np
>>> fs, n = 25600.0, 25600
>>> t = np.arange(n) / fs
>>> sp = Spectrum.of(np.sin(2 * np.pi * 100 * t), fs)   # 1 g peak at 100 Hz
>>> round(sp.velocity_rms_mm_s(10, 1000), 1)              # 9806.65 / (2π·100) / √2
11.0
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.fft as sfft

from detectors.robust import dot

try:  # the transforms scipy.fft runs, called without its per-call dispatch (the same numbers: see rfft)
    from scipy.fft._pocketfft import pypocketfft as _pocketfft
except ImportError:  # another scipy layout: through scipy.fft
    _pocketfft = None


def _direct_works() -> bool:
    """Whether the private pocketfft calls below give scipy.fft's numbers on this scipy (its signature
    is not public: a scipy that changed it falls back to scipy.fft instead of failing or differing)."""
    probe = np.random.default_rng(0).normal(size=64)
    try:
        spec = _pocketfft.r2c(probe, (-1,), True, 0, None, 1)
        back = _pocketfft.c2c(spec, (-1,), False, 2, None, 1)
        return (np.array_equal(spec, sfft.rfft(probe)) and np.array_equal(back, sfft.ifft(spec)))
    except Exception:  # noqa: BLE001 - any failure: use scipy.fft
        return False


if _pocketfft is not None and not _direct_works():
    _pocketfft = None

__all__ = ["BAND_EDGES_HZ", "G", "Spectrum", "estimate_speed_hz", "refine_speed_hz"]

G = 9.80665  # m/s² per g
BAND_EDGES_HZ = (10.0, 200.0, 1000.0, 3000.0, 6000.0, 12000.0)


def rfft(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``scipy.fft.rfft(x, axis=axis)``: the same pocketfft transform with the same arguments (one
    worker, scipy.fft's default), called directly for a float64 array (scipy.fft's backend dispatch
    and argument handling cost about as much as a 2,560-point transform itself); through
    ``scipy.fft`` for anything else. (A scipy.fft backend set by the caller is not consulted.)"""
    if _pocketfft is None or x.dtype != np.float64 or not x.flags.aligned:
        return sfft.rfft(x, axis=axis)
    return _pocketfft.r2c(x, (axis,), True, 0, None, 1)


def ifft(x: np.ndarray, n: int | None = None, axis: int = -1, out: np.ndarray | None = None) -> np.ndarray:
    """``scipy.fft.ifft(x, n, axis)`` (``n``: zero-padded to that length, one-dimensional ``x``
    only), called directly as :func:`rfft`; ``out``: an array of ``x``'s shape (complex128,
    C-ordered, without ``n``) to write the result into (the same numbers)."""
    if out is not None and (n is not None or out.shape != x.shape):
        raise ValueError("ifft writes into out only without n, and out must have the shape of x")
    if _pocketfft is None or x.dtype != np.complex128 or not x.flags.aligned or (n is not None and x.ndim != 1):
        if out is not None:
            out[...] = sfft.ifft(x, n=n, axis=axis)
            return out
        return sfft.ifft(x, n=n, axis=axis)
    if n is None:
        return _pocketfft.c2c(x, (axis,), False, 2, out, 1)
    if n < 1:
        raise ValueError(f"invalid number of data points ({n}) specified")
    if n <= x.size:
        return _pocketfft.c2c(x[:n], (axis,), False, 2, None, 1)
    tmp = np.zeros(n, dtype=np.complex128)  # as scipy.fft pads, and transformed in place as it does
    tmp[:x.size] = x
    return _pocketfft.c2c(tmp, (axis,), False, 2, tmp, 1)


@dataclass(frozen=True)
class Spectrum:
    """One-sided power spectrum of an acceleration snapshot (g²), Hann-windowed, energy-corrected.

    ``centred``: the snapshot's samples less their mean, when made by :meth:`of` (the envelope
    analysis transforms them too: :meth:`centred_rfft`)."""

    fs: float
    n: int
    freqs: np.ndarray
    power: np.ndarray  # g² per bin; sum over bins = mean square of the (detrended) signal
    centred: np.ndarray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, x: np.ndarray, fs: float, *, total: Any = None) -> Spectrum:
        """The spectrum of ``x``; ``total``: ``np.add.reduce(x)`` when the caller has it."""
        x = np.asarray(x, dtype=np.float64)
        n = x.size
        w, scale = _window_scaled(n)
        # (x.mean() without its Python wrapper: the same number)
        centred = x - (np.add.reduce(x) if total is None else total) / n
        spec = rfft(centred * w)
        power = (spec.real ** 2 + spec.imag ** 2) * scale
        power[0] *= 0.5
        if n % 2 == 0:
            power[-1] *= 0.5
        centred.flags.writeable = False
        return cls(fs=float(fs), n=n, freqs=rfft_freqs(n, float(fs)), power=power, centred=centred)

    def centred_rfft(self) -> np.ndarray | None:
        """``rfft`` of :attr:`centred` (unwindowed: the envelope analysis' spectrum of the snapshot),
        computed once per spectrum (read-only); None without :attr:`centred`."""
        spec = self.__dict__.get("_centred_rfft")
        if spec is None and self.centred is not None:
            spec = rfft(self.centred)
            spec.flags.writeable = False
            object.__setattr__(self, "_centred_rfft", spec)
        return spec

    def _grid(self) -> dict[Any, Any]:
        """A memo of what depends on this spectrum's frequency grid alone (search bounds), shared by
        every spectrum on the very same grid array (:func:`rfft_freqs`'s, read-only)."""
        return _grid_memo(self.freqs)

    @property
    def df(self) -> float:
        return self.fs / self.n

    def band_rms_g(self, lo: float, hi: float) -> float:
        """Acceleration RMS (g) of the components in ``[lo, hi)`` Hz."""
        return self.bands_rms_g([lo, hi])[0]

    def bands_rms_g(self, edges: list[float]) -> list[float]:
        """:meth:`band_rms_g` of every band between consecutive ``edges`` (ascending), with one search
        (once per grid and edges)."""
        memo, key = self._grid(), ("bands", tuple(edges))
        idx = memo.get(key) if memo is not None else None
        if idx is None:
            idx = np.searchsorted(self.freqs, edges).tolist()
            if memo is not None:
                memo[key] = idx
        # (np.add.reduce: what ndarray.sum computes, without its Python wrapper)
        add, pw = np.add.reduce, self.power
        return [math.sqrt(float(add(pw[i0:i1]))) for i0, i1 in zip(idx[:-1], idx[1:], strict=True)]

    def velocity_rms_mm_s(self, lo: float, hi: float) -> float:
        """Velocity RMS (mm/s) of the components in ``[lo, hi]`` Hz, integrated in the frequency domain.

        Bins within two bins of DC are skipped: with a Hann window they hold leakage from below
        the band, which the ``1/f²`` of integration would blow up (matters for short snapshots).
        """
        cache = self.__dict__.get("_velocity")
        if cache is not None and (lo, hi) in cache:  # (the features and the shaft rules read the same band)
            return cache[lo, hi]
        memo, key = self._grid(), ("velocity", lo, hi)
        found = memo.get(key) if memo is not None else None
        if found is None:
            i0, i1 = np.searchsorted(self.freqs, [lo - 1e-9, hi + 1e-9])
            i0 = max(i0, 2)
            f = self.freqs[i0:i1]
            found = (i0, i1, f * f if i1 > i0 else None)
            if memo is not None:
                memo[key] = found
        i0, i1, ff = found
        if i1 <= i0:
            v = 0.0
        else:
            vel2 = self.power[i0:i1] * (G * 1000.0 / (2 * math.pi)) ** 2 / ff
            v = math.sqrt(float(np.add.reduce(vel2)))  # (what vel2.sum() computes)
        if cache is None:
            cache = {}
            object.__setattr__(self, "_velocity", cache)
        cache[lo, hi] = v
        return v

    def order_amplitude_mm_s(self, shaft_hz: float, order: float, tol: float = 0.03) -> float:
        """Peak velocity amplitude (mm/s, 0-peak) of the line near ``order × shaft_hz``.

        The line's power is summed over the Hann main lobe around the largest bin within the
        speed tolerance, so the value does not depend on where the line falls between bins.
        """
        return float(self.order_amplitudes_mm_s(shaft_hz, (order,), tol)[0])

    def order_amplitudes_mm_s(self, shaft_hz: float, orders: tuple[float, ...] | list[float],
                              tol: float = 0.03) -> np.ndarray:
        """:meth:`order_amplitude_mm_s` of every order at once (0 for an order outside the spectrum).

        The windows are a few bins each: read in plain Python (numpy's per-call overhead is most of
        the cost at this size)."""
        memo, key = self._grid(), ("orders", self.fs, self.n, shaft_hz, tuple(orders), tol)
        found = memo.get(key) if memo is not None else None
        if found is None:  # the search windows depend on the grid and the speed alone
            found = self._order_windows(shaft_hz, orders, tol)
            if memo is not None:
                memo[key] = found
        windows, lo, hi = found
        if hi <= lo:
            return np.zeros(len(windows))
        pw = self.power[lo:hi].tolist()  # every bin read below, as plain floats (the same numbers)
        out = []
        for f, i0, i1, size in windows:
            if not size:
                out.append(0.0)
                continue
            seg = pw[i0 - lo:i1 - lo]
            k = i0 + seg.index(max(seg))  # the largest bin (the first of equals)
            # the main lobe: bins k-1, k, k+1 within [1, size) (bin 0 is DC), summed left to right
            j = k - lo
            p = (pw[j - 1] if k >= 2 else 0.0) + (pw[j] if k >= 1 else 0.0) + (pw[j + 1] if k + 1 < size else 0.0)
            out.append(math.sqrt(2 * p) * G * 1000.0 / (2 * math.pi * f))
        return np.asarray(out)

    def _order_windows(self, shaft_hz: float, orders: tuple[float, ...] | list[float], tol: float
                       ) -> tuple[list[tuple[float, int, int, int]], int, int]:
        """Where :meth:`order_amplitudes_mm_s` searches each order: ``(frequency, first bin, end bin,
        the spectrum's size or 0 for an order not read)``, and the bins ``[lo, hi)`` they read."""
        target = np.asarray(orders, dtype=np.float64) * shaft_hz
        half = np.maximum(target * tol, self.df)
        m = target.size
        bounds = np.searchsorted(self.freqs, np.concatenate([target - half, target + half + 1e-9])).tolist()
        size, nyq = self.power.size, self.fs / 2
        windows = [(f, i0, i1, size if 0 < f < nyq and i1 > i0 else 0)
                   for f, i0, i1 in zip(target.tolist(), bounds[:m], bounds[m:], strict=True)]
        read = [(i0, i1) for _, i0, i1, ok in windows if ok]
        lo = max(min(i0 for i0, _ in read) - 1, 0) if read else 0
        hi = min(max(i1 for _, i1 in read) + 1, size) if read else 0
        return windows, lo, hi


@lru_cache(maxsize=16)
def _window(n: int) -> np.ndarray:
    w = np.hanning(n + 2)[1:-1]  # no zero end points: every sample counts
    w.setflags(write=False)
    return w


@lru_cache(maxsize=16)
def _window_scaled(n: int) -> tuple[np.ndarray, float]:
    """:func:`_window` and the power scale through it, ``2 / (n · w·w)``."""
    w = _window(n)
    return w, 2.0 / (n * dot(w, w))


_GRID_MEMOS: dict[int, tuple[np.ndarray, dict[Any, Any]]] = {}
_GRID_MEMOS_LOCK = threading.Lock()  # the service's ingest workers and its API (spectra) share the memos


def _grid_memo(freqs: np.ndarray) -> dict[Any, Any] | None:
    """The memo of a read-only frequency grid (kept with the grid, so its id is not reused while the
    memo lives; at most 32 grids); None for a grid that may change (writeable)."""
    if freqs.flags.writeable:
        return None
    entry = _GRID_MEMOS.get(id(freqs))
    if entry is not None and entry[0] is freqs and len(entry[1]) <= 256:
        return entry[1]
    with _GRID_MEMOS_LOCK:  # a new grid, or a memo to start afresh: changed by one thread at a time
        entry = _GRID_MEMOS.get(id(freqs))
        if entry is None or entry[0] is not freqs:
            if len(_GRID_MEMOS) >= 32:
                del _GRID_MEMOS[next(iter(_GRID_MEMOS))]  # the oldest
            entry = _GRID_MEMOS[id(freqs)] = (freqs, {})
        elif len(entry[1]) > 256:  # many speeds on one grid (a speed that drifts): start afresh
            entry[1].clear()
        return entry[1]


@lru_cache(maxsize=32)
def rfft_freqs(n: int, fs: float) -> np.ndarray:
    """``np.fft.rfftfreq(n, 1 / fs)``, the same (read-only) array for every spectrum on that grid (the
    snapshot's spectrum here, the squared envelope spectrum's in :mod:`detectors.envelope`)."""
    f = np.fft.rfftfreq(n, 1.0 / fs)
    f.setflags(write=False)
    return f


def estimate_speed_hz(sp: Spectrum, rated_hz: float | None = None) -> float | None:
    """Shaft speed (Hz) from the spectrum: the strongest low-frequency line whose harmonics agree.

    Searches ±20 % around ``rated_hz`` when known, otherwise 5–120 Hz. Each candidate bin is scored
    by the summed velocity power at its first three harmonics (a harmonic sum), which keeps a 2×
    line from being mistaken for the shaft speed. Returns None if the spectrum is too coarse.
    """
    lo, hi = (0.8 * rated_hz, 1.2 * rated_hz) if rated_hz else (5.0, 120.0)
    lo = max(lo, 2 * sp.df)
    hi = min(hi, sp.fs / 8)
    if hi <= lo:
        return None
    i0, i1 = np.searchsorted(sp.freqs, [lo, hi])
    if i1 - i0 < 1:
        return None
    vel = sp.power / np.maximum(sp.freqs, sp.df) ** 2
    cand = np.arange(i0, i1)
    score = np.zeros(cand.size)
    for h in (1, 2, 3):
        idx = np.minimum(cand * h, vel.size - 1)
        score += vel[idx] / h
    k = int(cand[int(np.argmax(score))])
    # parabolic interpolation on the log power for sub-bin accuracy
    if 0 < k < vel.size - 1:
        a, b, c = np.log(vel[k - 1:k + 2] + 1e-30)
        den = a - 2 * b + c
        delta = 0.5 * (a - c) / den if den < 0 else 0.0
        return float((k + float(np.clip(delta, -0.5, 0.5))) * sp.df)
    return float(k * sp.df)


def _harmonic_sums(power: np.ndarray, df: float, cands: np.ndarray, harmonics: int) -> np.ndarray:
    """Mean over harmonics 1..``harmonics`` of log10 power at ``h × cand`` (the largest of the
    nearest bin and its two neighbours), for every candidate speed."""
    score = np.zeros(cands.size)
    last = power.size - 2
    for h in range(1, harmonics + 1):
        k = np.minimum(np.rint(h * cands / df).astype(np.intp), last)
        score += np.log10(np.maximum(np.maximum(power[k - 1], power[k]), power[k + 1]) + 1e-300)
    return score / harmonics


def refine_speed_hz(x: np.ndarray, fs: float, stated_hz: float, sp: Spectrum | None = None, *,
                    span: float = 0.05, harmonics: int = 8, min_gain_db: float = 10.0,
                    min_change: float = 0.005) -> tuple[float, dict | None]:
    """The shaft speed, from ``stated_hz`` unless the snapshot's own shaft harmonics contradict it.

    A stated speed can be off: a drive's set point is not the motor's speed under load (slip of
    1-5 %), and recordings carry speeds typed by hand (one CWRU fan-end record is stated 2.4 %
    below what its spectrum shows). Every candidate speed within ``±span`` is scored by the mean
    log power of its first ``harmonics`` harmonics; the stated speed is replaced only when the
    best candidate is more than ``min_change`` away and its harmonics stand ``min_gain_db`` dB
    (power, on average per harmonic) above the stated speed's: the stated harmonics are then
    mostly noise while another set of harmonics is clearly there. The replacement is then located
    on a 4x zero-padded spectrum. Returns ``(speed_hz, evidence or None)``; the evidence names
    both speeds and the gain.

    >>> fs, fr = 12000.0, 30.6
    >>> t = np.arange(int(3 * fs)) / fs
    >>> x = sum(np.sin(2 * np.pi * h * fr * t) / h for h in range(1, 9)) + np.random.default_rng(0).normal(0, 0.3, t.size)
    >>> speed, ev = refine_speed_hz(x, fs, 30.0)
    >>> abs(speed - 30.6) < 0.01, ev["gain_db"] > 10
    (True, True)
    >>> refine_speed_hz(x, fs, 30.6)[1] is None
    True
    """
    x = np.asarray(x, dtype=np.float64)
    sp = sp or Spectrum.of(x, fs)
    if not stated_hz > 0 or (1 + span) * harmonics * stated_hz >= fs / 2 or stated_hz * span < 2 * sp.df:
        return stated_hz, None  # the harmonics are out of the spectrum, or it cannot resolve the span
    cands = stated_hz * np.linspace(1 - span, 1 + span, 1001)
    score = _harmonic_sums(sp.power, sp.df, cands, harmonics)
    j = int(np.argmax(score))
    stated = float(_harmonic_sums(sp.power, sp.df, np.array([stated_hz]), harmonics)[0])
    gain_db = 10 * (float(score[j]) - stated)
    if abs(cands[j] / stated_hz - 1) <= min_change or gain_db < min_gain_db:
        return stated_hz, None
    # locate it on a finer grid: the Hann spectrum of the snapshot zero-padded to 4x its length
    n = x.size
    nfft = 4 * n
    fine = np.abs(sfft.rfft((x - x.mean()) * _window(n), nfft)) ** 2
    near = np.linspace(cands[j] - 2 * sp.df, cands[j] + 2 * sp.df, 401)  # ±2 coarse bins
    fine_score = _harmonic_sums(fine, fs / nfft, near, harmonics)
    top = np.flatnonzero(fine_score >= fine_score.max())  # reading ±1 bin makes a plateau: its middle
    speed = float(near[top[top.size // 2]])
    return speed, {"feature": "shaft_speed", "stated_hz": round(stated_hz, 4), "measured_hz": round(speed, 4),
                   "gain_db": round(gain_db, 1),
                   "meaning": f"the shaft's harmonics put it {100 * (speed / stated_hz - 1):+.1f} % from the stated speed"}
