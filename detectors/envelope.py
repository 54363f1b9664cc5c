"""Envelope analysis for rolling-element bearings.

1. Choose the demodulation band with a fast, FFT-based infogram (Antoni 2016): the spectrum is
   split into dyadic bands (Nyquist/2, /4, /8, /16); each band's complex envelope is the inverse
   FFT of its bins, and the spectral negentropy of its squared envelope spectrum measures how
   strongly the band is modulated by *repetitive* impulses. Unlike the kurtogram it is not
   captured by a few isolated spikes (which the CWRU 48 kHz records have). Bands below the
   highest defect frequency searched are skipped: the carrier must lie above the modulation.
   The band's spectral kurtosis ``E|z|⁴ / (E|z|²)² − 2`` is kept as evidence.
2. Square the band's envelope and take its spectrum (the squared envelope spectrum, SES),
   averaged over Hann segments of ``segment_s`` (one second by default) overlapping by half
   when the record is longer (Welch).
3. Read the SES at the defect frequencies (BPFO, BPFI, BSF, FTF), their harmonics and their
   shaft-speed sidebands, each searched within a speed tolerance, against the SES's local median.

>>> import numpy as np
>>> fs = 20000.0
>>> t = np.arange(40000) / fs
>>> rng = np.random.default_rng(1)
>>> ring = np.exp(-800 * t[:200]) * np.sin(2 * np.pi * 3000 * t[:200])
>>> x = np.convolve((np.arange(t.size) % 200 == 0).astype(float), ring)[: t.size] + rng.normal(0, 0.05, t.size)
>>> ses = squared_envelope_spectrum(x, fs)
>>> round(ses.peak_near(100.0, tol_hz=2.0)[0])
100
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft as sfft

from detectors.robust import row_medians
from detectors.spectrum import Spectrum, _grid_memo, ifft, rfft, rfft_freqs

__all__ = ["SES", "select_band", "squared_envelope_spectrum"]


@dataclass(frozen=True)
class SES:
    """A squared envelope spectrum (amplitude, in g² of the band's squared envelope)."""

    freqs: np.ndarray
    amp: np.ndarray
    band_hz: tuple[float, float]
    kurtosis: float

    @property
    def df(self) -> float:
        return float(self.freqs[1] - self.freqs[0]) if self.freqs.size > 1 else 0.0

    def peak_near(self, f: float, tol_hz: float) -> tuple[float, float]:
        """(frequency, amplitude) of the largest SES line within ``f ± tol_hz``; (f, 0) if out of range."""
        half = max(tol_hz, self.df)
        i0, i1 = np.searchsorted(self.freqs, [f - half, f + half + 1e-9])
        i0 = max(int(i0), 1)
        if i1 <= i0:
            return f, 0.0
        k = i0 + int(np.argmax(self.amp[i0:i1]))
        return float(self.freqs[k]), float(self.amp[k])

    def background_near(self, f: float, half_width_hz: float = 0.0) -> float:
        """Robust local noise floor at ``f``: the SES's block medians, interpolated.

        The spectrum is cut into blocks of ``max(16, n/64)`` bins; the floor at ``f`` interpolates
        the blocks' medians (one vectorised median for the whole spectrum, so reading many lines
        costs little). ``half_width_hz`` is accepted for compatibility and ignored.
        """
        return float(self.background_at(np.asarray([f]))[0])

    def background_at(self, f: np.ndarray) -> np.ndarray:
        """:meth:`background_near` at every frequency of ``f`` at once."""
        # (the ufuncs' reduce: what np.max and ndarray.max compute, without their Python wrappers)
        centres, medians = self._floor(float(np.maximum.reduce(f, axis=None, initial=0.0)))
        return np.maximum(np.interp(f, centres, medians),
                          max(1e-12 * float(np.maximum.reduce(self.amp, axis=None, initial=1e-30)), 1e-30))

    def _floor(self, up_to_hz: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
        """Block centres and medians, at least up to the first centre at or above ``up_to_hz`` (the
        interpolation there is then what the whole floor gives; lines are read far below the top of
        the spectrum, so most blocks are never needed)."""
        n = self.amp.size - 1
        block = max(16, n // 64)
        nb = max(n // block, 1)
        if n >= block and math.isfinite(up_to_hz) and self.df > 0:
            need = min(nb, max(math.ceil((up_to_hz / self.df - 1 - block // 2) / block), 0) + 1)
        else:
            need = nb
        cached = self.__dict__.get("_floor_cache")
        if cached is None or cached[0].size < need:
            body = self.amp[1: 1 + need * block].reshape(need, -1) if n >= block else self.amp[1:].reshape(1, -1)
            medians = row_medians(body)
            memo, key = _grid_memo(self.freqs), ("floor_centres", medians.size, body.shape[1])
            centres = memo.get(key) if memo is not None else None
            if centres is None:  # (where the blocks' centres are depends on the grid alone)
                centres = self.freqs[1 + np.arange(medians.size) * body.shape[1] + body.shape[1] // 2]
                if memo is not None:
                    centres.flags.writeable = False
                    memo[key] = centres
            cached = (centres, medians)
            object.__setattr__(self, "_floor_cache", cached)
        return cached


@lru_cache(maxsize=16)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n)


@lru_cache(maxsize=16)
def _hann_on(n: int, m: int) -> tuple[np.ndarray, float]:
    """``np.hanning(n)`` (over ``n`` samples) read at ``m`` points evenly spread over the same span,
    and ``2 / its sum`` (the amplitude scale of a spectrum through it)."""
    w = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(m) * (n / m)) / (n - 1))
    w.flags.writeable = False
    return w, 2.0 / w.sum()


def _band_kurtosis(spec: np.ndarray, k0: int, k1: int) -> float:
    z = ifft(spec[k0:k1])
    return _kurtosis(z.real ** 2 + z.imag ** 2)


def select_band(x: np.ndarray, fs: float, max_level: int = 4, min_bw_hz: float = 0.0) -> tuple[float, float, float]:
    """Demodulation band ``(lo_hz, hi_hz, spectral_kurtosis)`` with the highest spectral negentropy.

    Bands narrower than ``min_bw_hz`` or starting below it are skipped (the envelope must resolve
    the defect frequencies: a band of width B carries envelope frequencies up to B, and the
    carrier must be above them). The full band is the fallback.
    """
    x = np.asarray(x, dtype=np.float64)
    return _select(sfft.rfft(x - x.mean()), fs, x.size, max_level, min_bw_hz)


def _select(spec: np.ndarray, fs: float, n: int, max_level: int, min_bw_hz: float) -> tuple[float, float, float]:
    nyq_bins = spec.size - 1
    hz = fs / n
    bands, layout = _bands(nyq_bins, hz, max_level, min_bw_hz)
    if not bands:
        return hz, nyq_bins * hz, _band_kurtosis(spec, 1, nyq_bins)
    blocks = [spec[k0:k0 + rows * width].reshape(rows, width) for k0, rows, width in layout]
    ne, env2, starts = _negentropies(blocks)
    best, best_ne = -1, -np.inf
    for j, v in enumerate(ne.tolist()):  # the first of equals, in the order searched (NaN never wins)
        if v > best_ne:
            best, best_ne = j, v
    if best < 0:
        return hz, nyq_bins * hz, _band_kurtosis(spec, 1, nyq_bins)
    (k0, k1), i0 = bands[best], int(starts[best])
    # the chosen band's squared envelope is already there: its kurtosis without transforming it again
    return k0 * hz, k1 * hz, _kurtosis(env2[i0:i0 + k1 - k0])


@lru_cache(maxsize=64)
def _bands(nyq_bins: int, hz: float, max_level: int, min_bw_hz: float
           ) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int, int], ...]]:
    """The bands :func:`_select` searches, in order, as bin ranges ``[k0, k1)``, and the same bands
    as blocks of equally wide rows, one row per band, ``(first bin, rows, width)``: a level's bands
    are adjacent and equally wide, so one block per level, except band 0, which starts at bin 1,
    not 0 (one bin narrower: a block of its own, searched first). The same for every snapshot of
    a unit, so worked out once."""
    bands: list[tuple[int, int]] = []
    layout: list[tuple[int, int, int]] = []
    for level in range(1, max_level + 1):
        n_bands = 2 ** level
        width = nyq_bins // n_bands
        if width < 16 or width * hz < min_bw_hz:
            break
        rows = [b for b in range(n_bands) if max(b * width, 1) * hz >= min_bw_hz]
        if rows and rows[0] == 0:
            bands.append((1, width))
            layout.append((1, 1, width - 1))
            rows = rows[1:]
        if rows:
            bands += [(b * width, (b + 1) * width) for b in rows]
            layout.append((rows[0] * width, len(rows), width))
    return tuple(bands), tuple(layout)


def _kurtosis(e: np.ndarray) -> float:
    """Spectral kurtosis ``E|z|⁴ / (E|z|²)² − 2`` of a band from its squared envelope ``e = |z|²``."""
    # (sums over the size: what ndarray.mean computes, without its Python wrapper)
    m2 = float(np.add.reduce(e) / e.size)
    if m2 <= 0:
        return -2.0
    return float(np.add.reduce(e * e) / e.size) / (m2 * m2) - 2.0


@lru_cache(maxsize=32)
def _layout(shapes: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For blocks of these shapes laid end to end, row by row: (each row's width, its start; the
    width and start of each row's squared envelope spectrum without its DC bin)."""
    widths = np.array([w for r, w in shapes for _ in range(r)], dtype=np.intp)
    counts = widths // 2
    out = (widths, np.concatenate([[0], np.cumsum(widths[:-1])]).astype(np.intp),
           counts, np.concatenate([[0], np.cumsum(counts[:-1])]).astype(np.intp))
    for arr in out:
        arr.flags.writeable = False
    return out


def _negentropies(blocks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectral negentropy of each band's squared envelope spectrum (Antoni's infogram, spectral
    side), for every row of every block of ``blocks`` (each row one band's bins, the rows of a
    block equally wide), in order; with the bands' squared envelopes laid end to end and where
    each begins.

    The transforms go block by block (their lengths differ), the arithmetic around them on every
    row at once, the rows laid end to end: at these sizes numpy's per-call overhead, not the
    arithmetic, is most of the cost. Each row's sums are ``np.add.reduceat`` over its stretch, the
    same pairwise sums as its ``mean``: the numbers are those of one block at a time (tested).
    """
    widths, starts, counts, s_starts = _layout(tuple(b.shape for b in blocks))
    # the bands' analytic signals laid end to end, each transform written in its place (what the
    # concatenation of the transforms gives)
    z = np.empty(int(widths.size and starts[-1] + widths[-1]), dtype=np.complex128)
    i = 0
    for b in blocks:
        r, w = b.shape
        ifft(b, axis=1, out=z[i:i + r * w].reshape(r, w))
        i += r * w
    e = z.real ** 2 + z.imag ** 2
    centred = e - (np.add.reduceat(e, starts) / widths).repeat(widths)
    spectra, i = [], 0
    for b in blocks:
        r, w = b.shape
        spectra.append(rfft(centred[i:i + r * w].reshape(r, w), axis=1)[:, 1:])
        i += r * w
    s = np.abs(np.concatenate(spectra, axis=None)) ** 2
    m = np.add.reduceat(s, s_starts) / counts
    r = s / np.where(m > 0, m, 1.0).repeat(counts)
    ne = np.add.reduceat(r * np.log(np.maximum(r, 1e-300)), s_starts) / counts
    return np.where(m > 0, ne, 0.0), e, starts


def squared_envelope_spectrum(x: np.ndarray, fs: float, band: tuple[float, float] | None = None,
                              segment_s: float = 1.0, max_level: int = 4, min_bw_hz: float = 0.0, *,
                              spectrum: Spectrum | None = None) -> SES:
    """Squared envelope spectrum of ``x`` demodulated in ``band`` (chosen by kurtosis when None).

    ``spectrum``: ``x``'s :meth:`Spectrum.of`, when the caller has it: the transform of ``x`` less its
    mean is then taken from it (:meth:`Spectrum.centred_rfft`, made once for every envelope of the
    snapshot) instead of made again."""
    x = np.asarray(x, dtype=np.float64)
    spec = spectrum.centred_rfft() if spectrum is not None and spectrum.n == x.size else None
    if spec is None:
        spec = rfft(x - np.add.reduce(x) / x.size)  # (x.mean() without its Python wrapper: the same number)
    if band is None:
        lo, hi, sk = _select(spec, fs, x.size, max_level, min_bw_hz)
    else:
        lo, hi = band
        sk = float("nan")
    if hi <= lo:
        raise ValueError(f"demodulation band must have lo < hi, got {lo:g}..{hi:g} Hz")
    n = x.size
    # (math.ceil: the integer np.ceil rounds to, without numpy's scalar overhead)
    k0, k1 = max(math.ceil(lo * n / fs - 1e-9), 1), min(math.ceil(hi * n / fs - 1e-9), spec.size)
    seg = min(n, max(round(segment_s * fs), 256))
    m = k1 - k0
    short = _fast_len(2 * m + 2)
    if seg == n and short < n:
        # one segment and a band narrower than half the spectrum: the squared envelope has no line
        # above the band's width (m bins), so it is computed on its own, shorter grid (the band's
        # bins shifted to DC, at least 2m+2 points: |z|² and its window are not aliased) and its
        # spectrum is the same up to those m bins (to ~1e-6 dB on the lines), zero above
        z = ifft(spec[k0:k1], n=short) * (2.0 * short / n)  # (zero-padded to `short` points)
        env2 = z.real ** 2 + z.imag ** 2
        ws, scale = _hann_on(n, short)
        amp = np.zeros(n // 2 + 1)
        # (the sum over the size: what env2.mean() computes, without its Python wrapper)
        amp[:short // 2 + 1] = np.abs(rfft((env2 - np.add.reduce(env2) / short) * ws)) * scale
        return _ses(fs, seg, amp, lo, hi, sk, env2)
    full = np.zeros(n, dtype=np.complex128)
    full[k0:k1] = spec[k0:k1]
    z = ifft(full) * 2.0  # the band's analytic signal
    env2 = z.real ** 2 + z.imag ** 2
    w = _hann(seg)
    if seg == n:  # one segment (a short snapshot): no framing
        amp = np.abs(rfft((env2 - env2.mean()) * w)) * (2.0 / w.sum())
    else:  # Welch: Hann segments overlapping by half
        frames = np.lib.stride_tricks.sliding_window_view(env2, seg)[::max(seg // 2, 1)]
        frames = (frames - frames.mean(axis=1, keepdims=True)) * w
        amp = np.abs(rfft(frames, axis=1)).mean(axis=0) * (2.0 / w.sum())
    return _ses(fs, seg, amp, lo, hi, sk, env2)


@lru_cache(maxsize=256)
def _fast_len(m: int) -> int:
    """``scipy.fft.next_fast_len(m, real=True)``, once per length."""
    return sfft.next_fast_len(m, real=True)


def _ses(fs: float, seg: int, amp: np.ndarray, lo: float, hi: float, sk: float, env2: np.ndarray) -> SES:
    """The SES, with the band's spectral kurtosis from the squared envelope when not known yet."""
    if math.isnan(sk):
        sk = _kurtosis(env2)
    return SES(freqs=rfft_freqs(seg, float(fs)), amp=amp, band_hz=(float(lo), float(hi)), kurtosis=float(sk))
