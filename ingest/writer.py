"""Durable writing of batches: the telemetry store when it is up, the spool when it is down.

States: *up* — batches go to the store (the store retries retryable failures itself, bounded by
``telemetry.max_retry_time_s``); on :class:`StoreUnavailable` the writer turns *down* and the batch
is spooled. *Down* — batches go straight to the spool; every ``probe_interval_s`` the store is
pinged, and when it answers the spool is replayed in order before the writer turns *up* again.
The replay tries each write once (:func:`~foreshock.tsdb.retry.one_attempt`): the next probe is
its retry.
When the spool is full, or its disk refuses the write (full, read-only), the batch is held (not
acknowledged) and retried until it fits, the store returns, or the service stops; meanwhile the
broker keeps the messages. A replay stops between two records when the service stops (``stopping``):
the rest stays spooled for the next start, so a stop does not wait for the whole spool.
Likewise a stop ends the store's retries of a batch (:func:`~foreshock.tsdb.retry.stop_retries_on`):
the batch is spooled after the try in progress, not held for ``telemetry.max_retry_time_s``.

A batch the store refuses as bad data (:class:`StoreError`, e.g. a field-type conflict) is split
in halves until the offending messages are isolated; those are dead-lettered (``store_rejected``)
and the rest is written. Writes are idempotent, so rewriting a half is harmless. A spooled batch
is split the same way when it is replayed: only the refused points are left out (logged), not
the whole batch of up to ``telemetry.batch_size`` messages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum

from foreshock.tsdb.base import PayloadTooLarge, Point, StoreAccessDenied, StoreError, StoreUnavailable, TelemetryStore
from foreshock.tsdb.retry import one_attempt, stop_retries_on
from ingest.metrics import IngestMetrics
from ingest.spool import Spool, SpoolFull, SpoolUnavailable

__all__ = ["Outcome", "StoreWriter"]

log = logging.getLogger(__name__)


class Outcome(str, Enum):
    WRITTEN = "written"
    SPOOLED = "spooled"
    HELD = "held"  # neither: the service is stopping and the spool is full; do not acknowledge


class StoreWriter:
    def __init__(
        self, store: TelemetryStore, spool: Spool, metrics: IngestMetrics, *, probe_interval_s: float = 2.0,
        stopping: threading.Event | None = None,
    ) -> None:
        self.store = store
        # set when the service stops: a replay stops between two records (the rest waits for the next
        # start) instead of holding the stop until the whole spool is written
        self.stopping = stopping
        self.spool = spool
        self.metrics = metrics
        self.probe_interval_s = probe_interval_s
        self.up = spool.empty
        self._next_probe = 0.0
        self._next_note = 0.0  # when the next "still unavailable" line may be logged at INFO
        self._next_hold_note = 0.0  # when the next "holding N points" line may be logged
        self._next_size_note = 0.0  # when the next "written in parts (HTTP 413)" line may be logged
        self._holds_unsaid = 0  # tries of the held batch since that line
        self._held_since: float | None = None
        self._down_because: Exception | None = None  # the last error that kept telemetry from the store
        metrics.store_up = self.up
        metrics.spool_bytes = spool.size_bytes

    def write(self, groups: list[list[Point]], abort: threading.Event) -> tuple[Outcome, dict[int, str]]:
        """Write the points of ``groups`` (one group per message).

        Returns the outcome and ``{group index: error}`` of the groups the store refused as bad data.
        """
        self.maintain()
        rejected: dict[int, str] = {}
        while True:
            if self.up:
                try:
                    # a stop cuts the store's retries short: the batch is then spooled, not lost
                    with stop_retries_on(self.stopping):
                        rejected = self._write_groups(groups, list(range(len(groups))))
                    self._end_hold()
                    return Outcome.WRITTEN, rejected
                except StoreUnavailable as exc:
                    self.metrics.count("store_errors")
                    self._turn_down(exc)
            points = [p for i, g in enumerate(groups) if i not in rejected for p in g]
            try:
                if points:
                    self.spool.append(points)
                self._end_hold()
                self.metrics.count("points_spooled", len(points))
                self.metrics.count("batches_spooled")
                self.metrics.spool_bytes = self.spool.size_bytes
                return Outcome.SPOOLED, rejected
            except SpoolUnavailable as exc:
                self.metrics.count("spool_full_waits" if isinstance(exc, SpoolFull) else "spool_write_errors")
                self._note_hold(exc, len(points))
            if abort.wait(self.probe_interval_s):
                return Outcome.HELD, rejected
            self._next_probe = 0.0
            self.maintain()

    def _note_hold(self, exc: Exception, n: int) -> None:
        """The held batch, said at once and then once a minute (it is retried every probe: an ERROR line
        each time was 1,800 lines an hour of the same sentence for the length of an outage)."""
        now = time.monotonic()
        if self._held_since is None:
            self._held_since = now
        if now < self._next_hold_note:
            self._holds_unsaid += 1
            return
        more = f" ({self._holds_unsaid} more tries since the last line)" if self._holds_unsaid else ""
        log.error("%s: holding %d points unacknowledged until the store returns or the spool takes them; the "
                  "broker keeps the messages behind them only up to its own limit (Mosquitto: "
                  "max_queued_messages, 1000 by default) and drops the rest without a word%s", exc, n, more)
        self._next_hold_note = now + 60.0
        self._holds_unsaid = 0

    def _end_hold(self) -> None:
        if self._held_since is None:
            return
        log.info("the held batch is no longer held (written or spooled) after %.0f s", time.monotonic() -
                 self._held_since)
        self._held_since = None
        self._next_hold_note = 0.0
        self._holds_unsaid = 0

    def _write_groups(self, groups: list[list[Point]], idx: list[int]) -> dict[int, str]:
        refused = _isolate_refused(idx, lambda part: self._timed_write([p for i in part for p in groups[i]]))
        for i, error in list(refused.items()):
            if isinstance(error, PayloadTooLarge):  # one message larger than a request may be: in parts
                points = groups[i]
                parts = _isolate_refused(list(range(len(points))),
                                         lambda part, points=points: self._timed_write([points[j] for j in part]))
                if not parts:
                    del refused[i]
                    continue
                error = next(iter(parts.values()))
                refused[i] = error
            log.warning("store refused message %d's points: %s", i, error)
        return {i: str(error) for i, error in refused.items()}

    def _note_too_large(self, error: StoreError) -> None:
        """A 413 is a size limit, not bad data: said once a minute, with what to change."""
        now = time.monotonic()
        if now < self._next_size_note:
            return
        self._next_size_note = now + 60.0
        log.warning("%s: the store, or a proxy in front of it, takes smaller requests: written in parts (lower "
                    "telemetry.batch_size, or raise the limit, e.g. nginx's client_max_body_size)", error)

    def _timed_write(self, points: list[Point], counter: str = "points_written",
                     batches: str | None = "batches_written") -> None:
        if not points:
            return
        t0 = time.perf_counter()
        try:
            self.store.write(points)
        except PayloadTooLarge as exc:
            self._note_too_large(exc)
            raise
        self.metrics.observe_write(time.perf_counter() - t0)
        self.metrics.count(counter, len(points))
        if batches is not None:
            self.metrics.count(batches)

    def _turn_down(self, exc: Exception) -> None:
        if self.up and isinstance(exc, StoreAccessDenied):  # a setting or the store's users changed: no outage
            log.error("telemetry store refused access (%s): spooling to %s until it accepts; check the settings "
                      "telemetry.username and telemetry.password (or telemetry.token), and the store's users and "
                      "grants", exc, self.spool.dir)
        elif self.up:
            log.error("telemetry store unavailable (%s): spooling to %s", exc, self.spool.dir)
        self._down_because = exc
        self.up = False
        self.metrics.store_up = False
        self._next_probe = time.monotonic() + self.probe_interval_s

    def check(self) -> bool:
        """Ping the store once (at start): a store that does not answer is reported then, not at
        the first write, which may be long after. Nothing else changes: writes find out for
        themselves and spool."""
        try:
            self.store.ping()
        except StoreUnavailable as exc:
            log.warning("telemetry store not reachable at start (%s): telemetry is spooled to %s and "
                        "written when it answers", exc, self.spool.dir)
            return False
        return True

    def maintain(self) -> None:
        """When down and due, probe the store; when it answers, replay the spool and turn up."""
        if self.up or time.monotonic() < self._next_probe:
            return
        self._next_probe = time.monotonic() + self.probe_interval_s
        if self.stopping is not None and self.stopping.is_set():
            return  # no replay while stopping: the queue is spooled, the next start replays
        try:
            self.store.ping()
            with one_attempt():  # the probe is the retry: the store's own retries only delay new batches
                n = self.spool.replay(self._replay_write,
                                      should_stop=self.stopping.is_set if self.stopping is not None else None)
        except OSError as exc:  # the spool's disk (the cursor cannot be saved): stay down, try again
            self.metrics.count("spool_write_errors")
            log.error("cannot replay the spool %s: %s; trying again in %.1f s", self.spool.dir, exc,
                      self.probe_interval_s)
            return
        except StoreUnavailable as exc:
            self._down_because = exc
            self.metrics.spool_bytes = self.spool.size_bytes
            # a line a minute, not one per probe (every few seconds for the whole outage)
            now = time.monotonic()
            quiet = now < self._next_note
            if not quiet:
                self._next_note = now + 60.0
            log.log(logging.DEBUG if quiet else logging.INFO, "telemetry store still unavailable (%s); %d bytes spooled",
                    exc, self.spool.size_bytes)
            return
        self.metrics.spool_bytes = self.spool.size_bytes
        if self.metrics.spool_bytes:  # stopped between two records (the service is stopping): stay down
            if self.stopping is not None and self.stopping.is_set():
                log.info("replay of the spool stopped for the shutdown after %d points; %d bytes left for the "
                         "next start", n, self.metrics.spool_bytes)
            return
        self.up = True
        self._down_because = None
        self.metrics.store_up = True
        log.info("telemetry store is back: replayed %d spooled points", n)

    def down_report(self) -> str | None:
        """Why telemetry goes to the spool instead of the store (for the readiness probe), or None when it is
        written. A store that refuses the credentials still answers its ping, which asks for none."""
        if self.up:
            return None
        why = self._down_because
        kind = "refused access" if isinstance(why, StoreAccessDenied) else "unavailable"
        return f"{kind}: {why}; telemetry is spooled ({self.metrics.spool_bytes} bytes spooled)"

    def _replay_write(self, points: list[Point]) -> None:
        """Write one spooled batch. Points the store refuses as bad data would block the spool
        forever: the batch is split in halves until they are isolated; they are logged and skipped
        (counted in ``store_errors`` and ``points_refused_on_replay``), the rest is written."""
        def write(part: list[int]) -> None:
            self._timed_write([points[i] for i in part], "points_replayed", batches=None)

        refused = _isolate_refused(list(range(len(points))), write)
        for i, error in refused.items():
            p = points[i]
            self.metrics.count("store_errors")
            self.metrics.count("points_refused_on_replay")
            log.error("store refused a spooled point, skipped: %s %s at %d %s: %s",
                      p.measurement, p.tags, p.ts_ms, p.fields, error)


def _isolate_refused(items: list[int], write: Callable[[list[int]], None]) -> dict[int, StoreError]:
    """``write(items)``; when the store refuses it as bad data or as too large (:class:`StoreError`), write
    each half the same way, down to single items. Returns ``{refused item: error}``; StoreUnavailable
    propagates."""
    try:
        write(items)
        return {}
    except StoreUnavailable:
        raise
    except StoreError as exc:
        if len(items) == 1:
            return {items[0]: exc}
    mid = len(items) // 2
    return {**_isolate_refused(items[:mid], write), **_isolate_refused(items[mid:], write)}
