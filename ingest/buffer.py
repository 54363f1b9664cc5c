"""The bounded hand-over buffer between the MQTT network thread and the ingest worker.

A ``deque`` whose ``append``/``popleft`` are atomic under the GIL: no lock or condition per
message (``queue.Queue`` costs two of each). When the buffer is full, :meth:`put` waits in short
sleeps (the caller decides what a timeout means); when it is empty, :meth:`take` does.

It is bounded twice: by the number of items queued (``maxsize``) and by their bytes (``max_bytes``;
the caller weighs each item in :meth:`put` and gives the weight of what it took back in :meth:`done`),
counting both the queued items and those taken but not yet done (the batch the worker has in hand).
A count alone let a backlog of large messages (8,192-sample snapshots, 44 KB each) hold gigabytes.
An item larger than ``max_bytes`` still gets through: it waits until nothing else is held, then goes
alone. The byte count is two counters, one written only by the producer (``put``) and one only by
the consumer (``done``): no lock. The weights are the caller's, not a function of the buffer's: one
call less per message on the network thread.

>>> buf = HandOff(maxsize=2)
>>> buf.put("a", 0.01), buf.put("b", 0.01), buf.put("c", 0.01)
(True, True, False)
>>> buf.take(10, 0.01), len(buf)
(['a', 'b'], 0)

>>> buf = HandOff(maxsize=10, max_bytes=5)
>>> buf.put("abc", 0.01, 3), buf.put("de", 0.01, 2), buf.put("f", 0.01, 1), buf.full_bound(), buf.nbytes
(True, True, False, 'bytes', 5)
>>> batch = buf.take(10, 0.01); buf.put("f", 0.01, 1), buf.nbytes  # taken, not done: still held
(False, 5)
>>> buf.done(5); buf.put("larger than max_bytes", 0.01, 21), buf.put("f", 0.01, 1)
(True, False)
"""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import Generic, Literal, TypeVar

__all__ = ["HandOff"]

T = TypeVar("T")

_POLL_S = 0.002


class HandOff(Generic[T]):
    def __init__(self, maxsize: int, max_bytes: int | None = None) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be positive, got {maxsize}")
        if max_bytes is not None and max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.maxsize = maxsize
        self.max_bytes = max_bytes if max_bytes is not None else sys.maxsize
        self._items: deque[T] = deque()
        self._bytes_in = 0  # bytes of every item put: written by the producer only
        self._bytes_out = 0  # bytes of every item done: written by the consumer only

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Bytes held: the queued items and those taken but not yet :meth:`done`."""
        return self._bytes_in - self._bytes_out

    def full_bound(self) -> Literal["count", "bytes"]:
        """After a :meth:`put` that timed out: the bound it waited for, ``"count"`` or ``"bytes"``."""
        return "count" if len(self._items) >= self.maxsize else "bytes"

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

    def _full(self, n: int) -> bool:
        items = self._items
        # an item that would go over max_bytes waits while anything is held (queued or in hand) ...
        held = self._bytes_in - self._bytes_out
        over = n + held > self.max_bytes and (bool(items) or held > 0)
        return len(items) >= self.maxsize or over  # ... then it goes alone: never a deadlock

    def put(self, item: T, timeout_s: float, n: int = 0) -> bool:
        """Append ``item``, of ``n`` bytes; ``False`` if the buffer stayed full for ``timeout_s``."""
        if len(self._items) < self.maxsize and n + self._bytes_in - self._bytes_out <= self.max_bytes:
            self._bytes_in += n  # before the append: the consumer never releases bytes not yet counted
            self._items.append(item)
            return True
        return self._put_waiting(item, n, timeout_s)

    def _put_waiting(self, item: T, n: int, timeout_s: float) -> bool:
        """:meth:`put` when a bound is reached (or the item is larger than ``max_bytes``)."""
        if self._full(n):
            deadline = time.monotonic() + timeout_s
            while self._full(n):
                if time.monotonic() >= deadline:
                    return False
                time.sleep(_POLL_S)
        self._bytes_in += n
        self._items.append(item)
        return True

    def take(self, max_items: int, timeout_s: float) -> list[T]:
        """Up to ``max_items`` items, oldest first; waits up to ``timeout_s`` for the first one.

        Their bytes stay held until :meth:`done` is called with their weight."""
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

    def done(self, n: int) -> None:
        """Items taken, of ``n`` bytes in all, are no longer held (written, or left to the broker)."""
        self._bytes_out += n
