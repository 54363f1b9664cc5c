"""Exact, compact float arrays in a detector's saved state.

JSON writes a float as its shortest exact decimal, 17-20 characters for a measured value; the state of
a unit with the most scalar series (``max_scalar_keys``) went past the 64 KB a unit may keep. Packed as
little-endian float64 in base64 a value takes 10.7 characters and comes back bit for bit, so a restored
detector continues exactly as the saved one would have.

>>> pack_floats([1.5, -2.0])
'AAAAAAAA+D8AAAAAAAAAwA=='
>>> unpack_floats(pack_floats([0.1, 2.0 / 3.0])) == [0.1, 2.0 / 3.0], unpack_floats([1, 2.5])
(True, [1.0, 2.5])

Times are epoch seconds a unit sends in whole milliseconds (``ts_ms / 1000``): 10.7 characters each
as floats, they carry 13 digits. :func:`pack_times` saves such times as their milliseconds, the first
and the steps between them, each step less the least one in as few bytes as hold them all (2 for
steps of a minute give or take a minute: 2.7 characters a time); times that are not whole milliseconds
bit for bit (``ts / 1000`` of an integer) are packed as floats. Either comes back bit for bit.

>>> pack_times([1732000000.123, 1732000060.2, 1732000120.0])
{'ms': [1732000000123, 59800, 2], 'steps': 'FQEAAA=='}
>>> unpack_times(pack_times([1732000000.123, 1732000060.2, 1732000120.0]))
[1732000000.123, 1732000060.2, 1732000120.0]
>>> pack_times([0.1 + 0.2]) == pack_floats([0.1 + 0.2])  # 0.30000000000000004: not a whole ms
True
"""

from __future__ import annotations

import base64
import binascii
import itertools
import struct
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["pack_counts", "pack_floats", "pack_times", "pack_times_each", "unpack_counts", "unpack_floats",
           "unpack_times"]


def pack_floats(values: Iterable[float]) -> str:
    """``values`` as base64 of little-endian float64."""
    return base64.b64encode(np.asarray(list(values), dtype="<f8").tobytes()).decode("ascii")


def unpack_floats(packed: str | Iterable[float]) -> list[float]:
    """The floats :func:`pack_floats` packed; a list (the format of states saved before) is read as it is.

    Raises ValueError for text that is not such a packing (the caller names the state it came from)."""
    if not isinstance(packed, str):
        return [float(v) for v in packed]
    try:
        raw = base64.b64decode(packed, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"packed floats are not base64: {exc}") from None
    if len(raw) % 8:
        raise ValueError(f"packed floats: {len(raw)} bytes is not a whole number of float64 values")
    return np.frombuffer(raw, dtype="<f8").tolist()


_WIDTHS = (1, 2, 4, 8)  # the bytes a step of pack_times or a count of pack_counts takes (little-endian, unsigned)
_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}  # (their struct codes)
_MS_LIMIT = 2.0 ** 53 / 1000  # times from here on are not all whole milliseconds


def pack_times(times: Iterable[float]) -> dict[str, Any] | str:
    """``times`` as ``{"ms": [the first in ms, the least step in ms, the bytes per step], "steps": base64
    of every step less the least}`` when each is ``ms / 1000`` of a whole number of milliseconds ``ms``,
    bit for bit (not -0.0, a NaN, or a time past 2**53 ms); else as :func:`pack_floats`. An empty or
    one-time list has no steps."""
    return pack_times_each([list(times)])[0]


def pack_times_each(groups: Sequence[Sequence[float]]) -> list[dict[str, Any] | str]:
    """:func:`pack_times` of each group of times, checked in one pass over all of them (a unit's scalar
    trends: 16 of 48 times, in a third of the time of one call each)."""
    sizes = [len(g) for g in groups]
    flat = np.fromiter(itertools.chain.from_iterable(groups), dtype="<f8", count=sum(sizes))
    in_range = np.abs(flat) < _MS_LIMIT  # (a NaN compares false)
    ms = np.rint(np.where(in_range, flat, 0.0) * 1000.0).astype(np.int64)
    whole = in_range & ((ms / 1000.0).view(np.int64) == flat.view(np.int64))  # (bit for bit: -0.0 is not 0 ms)
    steps = ms[1:] - ms[:-1]
    out: list[dict[str, Any] | str] = []
    start = 0
    for n in sizes:
        end = start + n
        if not n or not whole[start:end].all():
            out.append(pack_floats(flat[start:end]))
        else:
            own = steps[start:end - 1]
            least = int(own.min()) if n > 1 else 0
            over = own - least
            top = int(over.max()) if n > 1 else 0
            width = next(w for w in _WIDTHS if top < 1 << (8 * w))
            out.append({"ms": [int(ms[start]), least, width],
                        "steps": base64.b64encode(over.astype(f"<u{width}").tobytes()).decode("ascii")})
        start = end
    return out


def unpack_times(packed: dict[str, Any] | str | Iterable[float]) -> list[float]:
    """The times :func:`pack_times` packed; floats (packed, or a list) are read as :func:`unpack_floats` reads
    them. Raises ValueError for a packing that is not one."""
    if not isinstance(packed, dict):
        return unpack_floats(packed)
    head, steps = packed.get("ms"), packed.get("steps")
    if not (isinstance(head, list) and len(head) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and abs(v) < 1 << 62 for v in head) and head[2] in _WIDTHS
            and isinstance(steps, str)):
        raise ValueError(f"packed times: expected {{'ms': [first, least step, bytes per step (1, 2, 4 or 8)], "
                         f"'steps': base64}}, got {str(packed)[:80]}")
    first, least, width = head
    try:
        raw = base64.b64decode(steps, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"packed times: the steps are not base64: {exc}") from None
    if len(raw) % width:
        raise ValueError(f"packed times: {len(raw)} bytes of steps is not a whole number of {width}-byte steps")
    ms = itertools.accumulate((d + least for d in struct.unpack(f"<{len(raw) // width}{_CODES[width]}", raw)),
                              initial=first)
    return (np.fromiter(ms, dtype=np.float64) / 1000.0).tolist()  # (as pack_times divided them)


def pack_counts(counts: Iterable[int]) -> str:
    """Whole numbers >= 0 below 2**64 as base64 of little-endian unsigned numbers of the fewest bytes (1, 2, 4 or
    8) that hold them all: a count of a few hundred in 2.7 characters, not the 5 of ``123, `` in JSON.

    >>> pack_counts([3, 300, 0]), unpack_counts(pack_counts([3, 300, 0]), 3)
    ('AwAsAQAA', [3, 300, 0])
    """
    values = [int(c) for c in counts]
    top = max(values, default=0)
    width = next(w for w in _WIDTHS if top < 1 << (8 * w))
    return base64.b64encode(np.asarray(values, dtype=np.uint64).astype(f"<u{width}").tobytes()).decode("ascii")


def unpack_counts(packed: str, n: int) -> list[int]:
    """The ``n`` counts :func:`pack_counts` packed (their width: the bytes over ``n``). Raises ValueError for
    text that is not such a packing."""
    try:
        raw = base64.b64decode(packed, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise ValueError(f"packed counts are not base64: {exc}") from None
    width = len(raw) // n if n else 1
    if width not in _WIDTHS or len(raw) != n * width:
        raise ValueError(f"packed counts: {len(raw)} bytes are not {n} counts of 1, 2, 4 or 8 bytes")
    return np.frombuffer(raw, dtype=f"<u{width}").tolist()
