"""Reductions for the hot path: medians (the same numbers as :func:`numpy.median`, by one
partition) and the dot product of two long vectors.

``np.median`` costs 10-30 µs of overhead per call whatever the size; on the short arrays read for
every snapshot (the envelope floor's blocks, the sensor check's robust scale) that overhead is most
of the cost.

>>> import numpy as np
>>> a = np.array([[3.0, 1.0, 2.0, 8.0], [5.0, 4.0, 6.0, 0.0]])
>>> row_medians(a).tolist(), median(np.array([3.0, 1.0, 2.0]))
([2.5, 4.5], 2.0)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["as_number", "dot", "finite", "median", "row_medians", "whole"]

_BLAS_ONE_THREAD = 8192  # OpenBLAS computes a dot product on one thread up to (about) this length


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a · b`` of two 1-D float arrays, never spread over BLAS threads.

    ``np.dot`` hands long vectors (above ~10,000 elements in OpenBLAS) to a thread pool. Waking
    the pool costs little on an idle machine, but on a busy one (the service, or ``evaluate``'s
    worker processes, one per core) each call waits for the threads to be scheduled: the engine
    then took 15-45 ms instead of 3-7 ms per 16,384-sample snapshot (``bench/long_snapshots.py``). Short vectors keep ``np.dot`` (one
    thread, the fastest); long ones use ``np.einsum``'s own loop (no BLAS).

    >>> dot(np.arange(20000.0), np.ones(20000)) == float(np.arange(20000.0).sum())
    True
    """
    if a.size <= _BLAS_ONE_THREAD:
        return float(np.dot(a, b))
    return float(np.einsum("i,i->", a, b))


def row_medians(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=1)`` of a 2-D array of finite values with at least one column."""
    k = a.shape[1]
    p = a.copy()  # (what np.partition does before partitioning in place, without its wrapper)
    if k % 2:
        p.partition(k // 2, axis=1)
        return p[:, k // 2]
    p.partition((k // 2 - 1, k // 2), axis=1)
    return (p[:, k // 2 - 1] + p[:, k // 2]) / 2


def median(a: np.ndarray) -> float:
    """``float(np.median(a))`` of a non-empty 1-D array of finite values (:func:`row_medians` of one
    row, the same number, on a flat copy)."""
    p = np.asarray(a).flatten()  # (a copy, contiguous, partitioned in place)
    k = p.size
    if k % 2:
        p.partition(k // 2)
        return float(p[k // 2])
    p.partition((k // 2 - 1, k // 2))
    return float((p[k // 2 - 1] + p[k // 2]) / 2)


def as_number(v: object) -> float:
    """``v`` as a float, or NaN when it is not a real number (None, text, a bool, a list): the
    detectors treat such a value as missing, as they treat NaN, rather than stop on it."""
    if type(v) is float:  # the usual case, without the abstract base class' check: the same value
        return v
    if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):
        return float(v)
    return math.nan


def whole(name: str, value: object, least: int) -> int:
    """A detector's whole-number setting, checked: ``ValueError`` naming it for a fraction (``5.5``), a
    bool, NaN, text, or a value under ``least``; ``60.0`` is taken as 60.

    >>> whole("warmup", 60.0, least=5)
    60
    >>> whole("warmup", 5.5, least=5)
    Traceback (most recent call last):
    ...
    ValueError: warmup must be a whole number, got 5.5
    """
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or not float(value).is_integer()):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < least:
        raise ValueError(f"{name} must be at least {least}, got {int(value)}")
    return int(value)


def finite(name: str, value: object, least: float | None = None, above: float | None = None) -> float:
    """A detector's numeric setting, checked: ``ValueError`` naming it for NaN, an infinity, a bool or
    text, or a value under ``least`` (or not above ``above``).

    >>> finite("delta", float("nan"), least=0.0)
    Traceback (most recent call last):
    ...
    ValueError: delta must be a finite number, got nan
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if least is not None and value < least:
        raise ValueError(f"{name} must be >= {least}, got {value}")
    if above is not None and not value > above:
        raise ValueError(f"{name} must be > {above}, got {value}")
    return float(value)
