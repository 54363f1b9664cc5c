"""Make two threads meet inside the code under test, to force the race a lock must prevent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def meeting(real: Callable[..., Any], barrier: threading.Barrier, *, after: bool = False,
            timeout_s: float = 3.0) -> Callable[..., Any]:
    """``real`` wrapped so that each caller waits at ``barrier`` before calling it (or, ``after``, once
    it has returned): both threads have read the same state before either writes. When a lock makes
    the second wait for the first, the barrier times out and the call goes on."""
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not after:
            _wait(barrier, timeout_s)
        result = real(*args, **kwargs)
        if after:
            _wait(barrier, timeout_s)
        return result
    return wrapped


def meanwhile(real: Callable[..., Any], action: Callable[[], Any], *, before: bool = False,
              timeout_s: float = 3.0) -> tuple[Callable[..., Any], list[threading.Thread]]:
    """``real`` wrapped so that, once it has returned (``before``: just before it is called),
    ``action`` runs in another thread (another person acting between the caller's look-up and its
    write), waited for at most ``timeout_s``: when a lock the caller holds makes it wait, the call
    goes on and the action follows its commit. Returns the wrapper and the list its threads are
    put in, for the test to join."""
    threads: list[threading.Thread] = []

    def act() -> None:
        t = threading.Thread(target=action)
        threads.append(t)
        t.start()
        t.join(timeout=timeout_s)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if before:
            act()
        result = real(*args, **kwargs)
        if not before:
            act()
        return result
    return wrapped, threads


def _wait(barrier: threading.Barrier, timeout_s: float) -> None:
    try:
        barrier.wait(timeout=timeout_s)
    except threading.BrokenBarrierError:
        pass


def run_together(*targets: Callable[[], None]) -> None:
    """Start one thread per target and wait for all of them."""
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
