"""A per-device token bucket for one ingest worker (``ingest.rate_limit_per_s``).

Each device may send ``rate_per_s`` messages per second on average, with bursts of up to
``burst`` messages (default: one second's worth, at least one). A message over the limit is not
stored: ingest dead-letters it with reason ``rate_limited`` and counts it, so a flood from one
device is accounted for and cannot starve the others.

The buckets are the only per-device state of ingest. They are bounded (``max_devices``; the least
recently seen device is forgotten first, which at worst gives it a fresh burst) and local to one
worker: with ``N`` workers sharing a ``$share/`` subscription the broker spreads a device's
messages over them, so the effective limit for a device is up to ``N`` times ``rate_per_s``.
The clock (``now_s``) is the caller's: ingest passes the time the unit stamped the message when
that is earlier than its receipt, else its receipt (``ingest.service._sent_at``). So the decision
does not depend on how fast the worker drains its queue, and a backlog that arrives at once after
an outage passes at the pace it was sent, while a flood stamped close together is limited.

>>> limiter = DeviceRateLimiter(2.0)
>>> [limiter.allow("P-1", t) for t in (0.0, 0.1, 0.2, 0.6, 1.2)]
[True, True, False, True, True]
>>> limiter.allow("P-2", 0.2), limiter.limited
(True, 1)
"""

from __future__ import annotations

import logging
from collections import OrderedDict

__all__ = ["DeviceRateLimiter"]

log = logging.getLogger(__name__)


class DeviceRateLimiter:
    def __init__(self, rate_per_s: float, *, burst: float | None = None, max_devices: int = 100_000) -> None:
        if not rate_per_s > 0:
            raise ValueError(f"rate_per_s must be positive, got {rate_per_s!r}")
        if burst is not None and not burst >= 1:
            raise ValueError(f"burst must be at least 1 message, got {burst!r}")
        if max_devices < 1:
            raise ValueError(f"max_devices must be at least 1, got {max_devices!r}")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate_per_s)
        self.max_devices = max_devices
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # device -> (tokens, last time)
        self.limited = 0

    def allow(self, device_id: str, now_s: float) -> bool:
        """Take one token from the device's bucket at time ``now_s`` (seconds); ``False`` when empty."""
        state = self._buckets.pop(device_id, None)
        if state is None:
            tokens = self.burst
            if len(self._buckets) >= self.max_devices:
                self._buckets.popitem(last=False)
        else:
            tokens, last = state
            tokens = min(self.burst, tokens + max(0.0, now_s - last) * self.rate_per_s)
        ok = tokens >= 1.0
        if ok:
            tokens -= 1.0
        else:
            self.limited += 1
        self._buckets[device_id] = (tokens, now_s)
        return ok

    def __len__(self) -> int:
        return len(self._buckets)
