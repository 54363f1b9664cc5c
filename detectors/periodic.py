"""The cycle of a quantised series, for :class:`detectors.scalar.ScalarAnomaly`'s phase novelty: its
period from the autocorrelation of the last levels, a fixed buffer of those levels, and their packing
at a few bits each for the saved state."""

from __future__ import annotations

import base64
from array import array

import numpy as np

__all__ = ["MIN_PERIOD", "LevelRing", "estimate_period", "pack_levels", "unpack_levels"]

MIN_PERIOD = 4  # the shortest period looked for, in values


class LevelRing:
    """The last ``size`` levels in a fixed buffer of 16-bit numbers: no Python object per level, so
    the state packs them without a loop over them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.buf = array("H", bytes(2 * size))
        self.len = 0
        self.next = 0  # where the next level goes

    def __len__(self) -> int:
        return self.len

    def append(self, level: int) -> None:
        self.buf[self.next] = level
        self.next = (self.next + 1) % self.size
        self.len = min(self.len + 1, self.size)

    def ordered(self) -> np.ndarray:
        """The levels, oldest first."""
        a = np.frombuffer(self.buf, dtype=np.uint16)
        if self.len < self.size:
            return a[: self.len].copy()
        return np.concatenate((a[self.next:], a[: self.next]))

    def load(self, levels: np.ndarray) -> None:
        n = len(levels)
        np.frombuffer(self.buf, dtype=np.uint16)[:n] = levels
        self.len, self.next = n, n % self.size


def estimate_period(levels: list[int] | np.ndarray, min_r: float, cycles: int = 2) -> int:
    """The lag of the highest autocorrelation peak past the first zero crossing, among the lags
    that fit ``cycles`` times in ``levels``; 0 when there is none, it is at the end of that range
    (no peak), or it is below ``min_r``.

    >>> estimate_period([i % 10 for i in range(200)], 0.5), estimate_period([3] * 200, 0.5)
    (10, 0)
    """
    x = np.array(levels, dtype=float)
    x -= x.mean()
    n = len(x)
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[: n // cycles + 1]
    if acf[0] <= 1e-12 * n:
        return 0  # constant
    acf /= acf[0]
    below = np.flatnonzero(acf < 0)
    if not len(below):
        return 0
    start = max(int(below[0]), MIN_PERIOD)
    if start >= len(acf) - 1:
        return 0
    lag = start + int(np.argmax(acf[start:]))
    return lag if acf[lag] >= min_r and lag < len(acf) - 1 else 0


def pack_levels(levels: np.ndarray, bits: int) -> str:
    """The levels packed at ``bits`` bits each, lowest bit first, as base64 (1,024 levels of 3 bits:
    512 characters)."""
    pairs = levels.astype("<u2").view(np.uint8).reshape(-1, 2)
    stream = np.unpackbits(pairs, axis=1, count=bits, bitorder="little")
    return base64.b64encode(np.packbits(stream, bitorder="little").tobytes()).decode("ascii")


def unpack_levels(text: str, n: int, bits: int) -> np.ndarray:
    """The ``n`` levels :func:`pack_levels` packed, as 16-bit numbers."""
    raw = np.frombuffer(base64.b64decode(text), dtype=np.uint8)
    stream = np.zeros((n, 16), dtype=np.uint8)
    stream[:, :bits] = np.unpackbits(raw, count=n * bits, bitorder="little").reshape(n, bits)
    return np.packbits(stream, axis=1, bitorder="little").view("<u2").ravel().astype(np.uint16)
