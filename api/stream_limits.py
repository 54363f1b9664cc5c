"""How many live-update streams (``GET /api/v1/events``) may be open: per token, and in all.

Each stream holds an asyncio task, a subscriber queue of up to 1000 events and a connection for as
long as the client stays. Without a cap a kiosk page or a script that opened streams in a loop took
the server's memory and tasks. A stream over either cap is refused (429, naming the cap and its
setting) before it subscribes; a stream frees its slot when it ends, whichever way it ends.

>>> slots = StreamSlots(per_token=2, total=3)
>>> a, b = slots.acquire(1), slots.acquire(1)
>>> slots.acquire(1)
Traceback (most recent call last):
...
api.stream_limits.TooManyStreams: this token already has 2 event streams open, the limit set by api.max_event_streams_per_token: close one (each dashboard tab holds one) or raise the setting
>>> c = slots.acquire(2)
>>> slots.acquire(3)
Traceback (most recent call last):
...
api.stream_limits.TooManyStreams: the server already has 3 event streams open, the limit set by api.max_event_streams: try again later or raise the setting
>>> a(); a(); slots.open, slots.open_for(1)
(2, 1)
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable

__all__ = ["RETRY_AFTER_S", "StreamSlots", "TooManyStreams"]

log = logging.getLogger(__name__)
RETRY_AFTER_S = 30  # what a refused client is told to wait: a slot frees only when another stream ends


class TooManyStreams(Exception):
    """A stream over a cap: ``limit`` is the cap, ``setting`` its name in the settings."""

    def __init__(self, message: str, *, limit: int, setting: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.setting = setting


class StreamSlots:
    """Open streams by token id, thread-safe; :meth:`acquire` returns the function that frees the slot."""

    def __init__(self, *, per_token: int, total: int) -> None:
        if per_token < 1 or total < 1:
            raise ValueError(f"stream limits must be at least 1, got per_token={per_token}, total={total}")
        self.per_token = per_token
        self.total = total
        self._lock = threading.Lock()
        self._open: Counter[int] = Counter()
        self._warned: set[int | None] = set()  # at a cap and said so: one log line, not one per refusal
        self.refused: Counter[str] = Counter()  # by cap: "per_token", "total"

    @property
    def open(self) -> int:
        with self._lock:
            return sum(self._open.values())

    def open_for(self, token_id: int) -> int:
        with self._lock:
            return self._open.get(token_id, 0)

    def acquire(self, token_id: int, token_name: str = "") -> Callable[[], None]:
        """A slot for a stream of ``token_id``, or :class:`TooManyStreams`."""
        with self._lock:
            if self._open[token_id] >= self.per_token:
                self._refuse("per_token", token_id, f"token {token_name!r}" if token_name else f"token {token_id}")
                raise TooManyStreams(
                    f"this token already has {self.per_token} event streams open, the limit set by "
                    "api.max_event_streams_per_token: close one (each dashboard tab holds one) or raise the setting",
                    limit=self.per_token, setting="api.max_event_streams_per_token")
            if sum(self._open.values()) >= self.total:
                self._refuse("total", None, "the server")
                raise TooManyStreams(
                    f"the server already has {self.total} event streams open, the limit set by "
                    "api.max_event_streams: try again later or raise the setting",
                    limit=self.total, setting="api.max_event_streams")
            self._open[token_id] += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                self._open[token_id] -= 1
                if self._open[token_id] <= 0:
                    del self._open[token_id]
                self._warned.discard(token_id)
                self._warned.discard(None)

        return release

    def _refuse(self, cap: str, key: int | None, who: str) -> None:
        self.refused[cap] += 1
        if key not in self._warned:
            self._warned.add(key)
            log.warning("event stream refused: %s is at its limit of %d open streams (setting %s); further "
                        "refusals are counted in foreshock_sse_refused_total", who,
                        self.per_token if cap == "per_token" else self.total,
                        "api.max_event_streams_per_token" if cap == "per_token" else "api.max_event_streams")

    def samples(self) -> list[tuple[str, str, str, dict[str, str], float]]:
        """For ``/metrics`` (which counts the open ones as ``foreshock_sse_subscribers``): streams refused, by cap."""
        with self._lock:
            return [("foreshock_sse_refused_total", "counter", "Live-update streams refused (429), by the limit "
                     "they were over", {"limit": cap}, self.refused[cap]) for cap in ("per_token", "total")]
