"""Retry of store requests: only :class:`StoreUnavailable` is retried, and the total time is bounded.
:class:`StoreAccessDenied` (wrong credentials or target) is raised at once: another try cannot succeed.

Exponential backoff with full jitter, as influxdb-client's write API does::

    delay(n) = random(0, min(max_delay_s, base_s * exponential_base ** n))

>>> calls = []
>>> def flaky():
...     calls.append(1)
...     if len(calls) < 3:
...         raise StoreUnavailable("down")
...     return "ok"
>>> Retry(max_retries=5, base_s=0.001, sleep=lambda s: None).call(flaky), len(calls)
('ok', 3)
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from foreshock.tsdb.base import StoreAccessDenied, StoreUnavailable

__all__ = ["Retry", "one_attempt", "stop_retries_on"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_ONE_ATTEMPT: contextvars.ContextVar[bool] = contextvars.ContextVar("foreshock_tsdb_one_attempt", default=False)
_STOP: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("foreshock_tsdb_stop", default=None)


@contextlib.contextmanager
def one_attempt() -> Iterator[None]:
    """Within it, :meth:`Retry.call` tries once in this thread: for a caller that retries by itself
    (ingest's probe of a store that is down, every 2 s: the store's own retries made each probe take up
    to ``max_retry_time_s`` and log a line per retry).

    >>> def down():
    ...     raise StoreUnavailable("down")
    >>> with one_attempt():
    ...     Retry(max_retries=5, sleep=lambda s: 1 / 0).call(down)
    Traceback (most recent call last):
    ...
    foreshock.tsdb.base.StoreUnavailable: down
    """
    token = _ONE_ATTEMPT.set(True)
    try:
        yield
    finally:
        _ONE_ATTEMPT.reset(token)


@contextlib.contextmanager
def stop_retries_on(stop: threading.Event | None) -> Iterator[None]:
    """Within it, :meth:`Retry.call` in this thread makes no further try once ``stop`` is set, and a
    wait between two tries ends when it is set: the last StoreUnavailable is raised (ingest then
    spools the batch). Without it a stop requested during a store outage waited for the store's
    retries (up to ``telemetry.max_retry_time_s``) and the service's shutdown bound ran out.
    The first try is always made.

    >>> stop, calls = threading.Event(), []
    >>> def down():
    ...     calls.append(1)
    ...     stop.set()  # a stop is requested while the store is down
    ...     raise StoreUnavailable("down")
    >>> with stop_retries_on(stop):
    ...     Retry(max_retries=5, sleep=lambda s: 1 / 0).call(down)
    Traceback (most recent call last):
    ...
    foreshock.tsdb.base.StoreUnavailable: down
    >>> len(calls)
    1
    """
    token = _STOP.set(stop)
    try:
        yield
    finally:
        _STOP.reset(token)


@dataclass
class Retry:
    """``max_retries`` further attempts after the first, within ``max_retry_time_s`` in total."""

    max_retries: int = 5
    max_retry_time_s: float = 60.0
    base_s: float = 0.2
    max_delay_s: float = 10.0
    exponential_base: float = 2.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.max_retry_time_s <= 0:
            raise ValueError(f"max_retry_time_s must be > 0, got {self.max_retry_time_s}")

    def call(self, fn: Callable[[], T], what: str = "request") -> T:
        """``fn()``, retried on StoreUnavailable; the last StoreUnavailable is raised when time or tries run out."""
        if _ONE_ATTEMPT.get():
            return fn()
        deadline = self.clock() + self.max_retry_time_s
        attempt = 0
        while True:
            try:
                return fn()
            except StoreAccessDenied:
                raise
            except StoreUnavailable as exc:
                if attempt >= self.max_retries:
                    raise
                delay = random.uniform(0, min(self.max_delay_s, self.base_s * self.exponential_base**attempt))
                if self.clock() + delay > deadline:
                    raise
                stop = _STOP.get()
                if stop is not None and stop.is_set():
                    log.warning("%s failed (%s); not retried: stopping", what, exc)
                    raise
                attempt += 1
                log.warning("%s failed (%s), retry %d/%d in %.2f s", what, exc, attempt, self.max_retries, delay)
                if stop is None:
                    self.sleep(delay)
                elif stop.wait(delay):  # a stop requested during the wait ends it
                    log.warning("%s: retry %d cancelled: stopping", what, attempt)
                    raise
