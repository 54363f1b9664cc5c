"""Exact, compact float arrays in a detector's saved state.

JSON writes a float as its shortest exact decimal, 17-20 characters for a measured value; the state of
a unit with the most scalar series (``max_scalar_keys``) went past the 64 KB a unit may keep. Packed as
little-endian float64 in base64 a value takes 10.7 characters and comes back bit for bit, so a restored
detector continues exactly as the saved one would have.

>>> pack_floats([1.5, -2.0])
'AAAAAAAA+D8AAAAAAAAAwA=='
>>> unpack_floats(pack_floats([0.1, 2.0 / 3.0])) == [0.1, 2.0 / 3.0], unpack_floats([1, 2.5])
(True, [1.0, 2.5])
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

import numpy as np

__all__ = ["pack_floats", "unpack_floats"]


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
