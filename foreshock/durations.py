"""A length of time as a person reads it in a log line or a CLI listing.

>>> [duration_text(s) for s in (45, 720, 12_600, 259_200)]
['45 s', '12 min', '3.5 h', '3.0 days']
"""

from __future__ import annotations

__all__ = ["duration_text"]


def duration_text(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``2.0 days``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"
