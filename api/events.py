"""A small in-process pub/sub for live updates (the SSE stream ``GET /api/v1/events``).

Any thread may call :meth:`EventBus.publish`; each subscriber gets its own bounded asyncio queue.
When a slow subscriber's queue is full the oldest event is dropped and counted, so a stalled
browser never blocks the pipeline.

>>> bus = EventBus()
>>> bus.publish("alert", {"id": 1})
Event(id=1, kind='alert', payload={'id': 1})
>>> bus.publish("", {})
Traceback (most recent call last):
...
ValueError: event kind must be a non-empty string
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "EventBus", "Subscription"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    payload: dict[str, Any]

    def to_sse(self) -> str:
        data = json.dumps(self.payload, default=str, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.kind}\ndata: {data}\n\n"


_CLOSED = Event(0, "closed", {})


@dataclass
class Subscription:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event]
    kinds: frozenset[str] | None = None
    dropped: int = 0
    closed: bool = False

    def _offer(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    def _close(self) -> None:
        self.closed = True
        self._offer(_CLOSED)

    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or ``None`` after ``timeout`` seconds or once the bus is closed."""
        if self.closed and self.queue.empty():
            return None
        try:
            event = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        return None if event is _CLOSED else event


@dataclass
class EventBus:
    """Thread-safe publisher, asyncio subscribers."""

    queue_size: int = 1000
    _subs: list[Subscription] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_id: int = 0
    closed: bool = False

    def publish(self, kind: str, payload: dict[str, Any]) -> Event:
        """Send ``payload`` to every subscriber interested in ``kind`` (e.g. ``alert``, ``ticket``)."""
        if not isinstance(kind, str) or not kind:
            raise ValueError("event kind must be a non-empty string")
        with self._lock:
            self._next_id += 1
            event = Event(self._next_id, kind, dict(payload))
            subs = list(self._subs)
        for sub in subs:
            if sub.kinds is not None and kind not in sub.kinds:
                continue
            try:
                sub.loop.call_soon_threadsafe(sub._offer, event)
            except RuntimeError:  # loop closed: the subscriber is gone
                self._remove(sub)
        return event

    def subscribe(self, kinds: set[str] | None = None) -> Subscription:
        """Subscribe from a running event loop; call :meth:`unsubscribe` when done."""
        sub = Subscription(asyncio.get_running_loop(), asyncio.Queue(self.queue_size),
                           frozenset(kinds) if kinds else None)
        with self._lock:
            if self.closed:
                sub.closed = True
            else:
                self._subs.append(sub)
        return sub

    def close(self) -> None:
        """End every stream (call before stopping the web server: open streams would hold it up)."""
        with self._lock:
            self.closed = True
            subs, self._subs = list(self._subs), []
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub._close)
            except RuntimeError:  # loop already closed
                pass

    def unsubscribe(self, sub: Subscription) -> None:
        self._remove(sub)
        if sub.dropped:
            log.info("event subscriber left after dropping %d events", sub.dropped)

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    async def stream(self, sub: Subscription, *, heartbeat_s: float = 15.0) -> AsyncIterator[str]:
        """SSE text for ``sub``: events, and a comment line every ``heartbeat_s`` to keep proxies open."""
        yield ": connected\n\n"
        while not sub.closed:
            event = await sub.get(heartbeat_s)
            if event is not None:
                yield event.to_sse()
            elif not sub.closed:
                yield ": keep-alive\n\n"
