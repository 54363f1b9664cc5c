"""The bounded hand-over buffer between the MQTT network thread and the ingest worker.

A ``deque`` whose ``append``/``popleft`` are atomic under the GIL: no lock or condition per
message (``queue.Queue`` costs two of each). When the buffer is full, :meth:`put` waits in short
sleeps (the caller decides what a timeout means); when it is empty, :meth:`take` does.

>>> buf = HandOff(maxsize=2)
>>> buf.put("a", 0.01), buf.put("b", 0.01), buf.put("c", 0.01)
(True, True, False)
>>> buf.take(10, 0.01), len(buf)
(['a', 'b'], 0)
"""

from __future__ import annotations

import time
from collections import deque
from typing import Generic, TypeVar

__all__ = ["HandOff"]

T = TypeVar("T")

_POLL_S = 0.002


class HandOff(Generic[T]):
    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be positive, got {maxsize}")
        self.maxsize = maxsize
        self._items: deque[T] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def oldest(self) -> T | None:
        """The item that has waited longest (None when empty), left in place.

        >>> buf = HandOff(maxsize=3)
        >>> buf.oldest(), buf.put("a", 0.01), buf.put("b", 0.01), buf.oldest()
        (None, True, True, 'a')
        """
        try:
            return self._items[0]
        except IndexError:
            return None

    def put(self, item: T, timeout_s: float) -> bool:
        """Append ``item``; ``False`` if the buffer stayed full for ``timeout_s``."""
        if len(self._items) >= self.maxsize:
            deadline = time.monotonic() + timeout_s
            while len(self._items) >= self.maxsize:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(_POLL_S)
        self._items.append(item)
        return True

    def take(self, max_items: int, timeout_s: float) -> list[T]:
        """Up to ``max_items`` items, oldest first; waits up to ``timeout_s`` for the first one."""
        items = self._items
        if not items:
            deadline = time.monotonic() + timeout_s
            while not items:
                if time.monotonic() >= deadline:
                    return []
                time.sleep(_POLL_S)
        out = []
        pop = items.popleft
        try:
            for _ in range(max_items):
                out.append(pop())
        except IndexError:
            pass
        return out
