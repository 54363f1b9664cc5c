"""Durable writing of batches: the telemetry store when it is up, the spool when it is down.

States: *up* — batches go to the store (the store retries retryable failures itself, bounded by
``telemetry.max_retry_time_s``); on :class:`StoreUnavailable` the writer turns *down* and the batch
is spooled. *Down* — batches go straight to the spool; every ``probe_interval_s`` the store is
pinged, and when it answers the spool is replayed in order before the writer turns *up* again.
When the spool is full the batch is held (not acknowledged) and retried until it fits, the store
returns, or the service stops; meanwhile the broker keeps the messages.

A batch the store refuses as bad data (:class:`StoreError`, e.g. a field-type conflict) is split
in halves until the offending messages are isolated; those are dead-lettered (``store_rejected``)
and the rest is written. Writes are idempotent, so rewriting a half is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from enum import Enum

from foreshock.tsdb.base import Point, StoreError, StoreUnavailable, TelemetryStore
from ingest.metrics import IngestMetrics
from ingest.spool import Spool, SpoolFull

__all__ = ["Outcome", "StoreWriter"]

log = logging.getLogger(__name__)


class Outcome(str, Enum):
    WRITTEN = "written"
    SPOOLED = "spooled"
    HELD = "held"  # neither: the service is stopping and the spool is full; do not acknowledge


class StoreWriter:
    def __init__(
        self, store: TelemetryStore, spool: Spool, metrics: IngestMetrics, *, probe_interval_s: float = 2.0
    ) -> None:
        self.store = store
        self.spool = spool
        self.metrics = metrics
        self.probe_interval_s = probe_interval_s
        self.up = spool.empty
        self._next_probe = 0.0
        self._next_note = 0.0  # when the next "still unavailable" line may be logged at INFO
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
                    rejected = self._write_groups(groups, list(range(len(groups))))
                    return Outcome.WRITTEN, rejected
                except StoreUnavailable as exc:
                    self.metrics.count("store_errors")
                    self._turn_down(exc)
            points = [p for i, g in enumerate(groups) if i not in rejected for p in g]
            try:
                if points:
                    self.spool.append(points)
                self.metrics.count("points_spooled", len(points))
                self.metrics.count("batches_spooled")
                self.metrics.spool_bytes = self.spool.size_bytes
                return Outcome.SPOOLED, rejected
            except SpoolFull as exc:
                self.metrics.count("spool_full_waits")
                log.error("%s: holding %d points unacknowledged until the store returns", exc, len(points))
            if abort.wait(self.probe_interval_s):
                return Outcome.HELD, rejected
            self._next_probe = 0.0
            self.maintain()

    def _write_groups(self, groups: list[list[Point]], idx: list[int]) -> dict[int, str]:
        points = [p for i in idx for p in groups[i]]
        if not points:
            return {}
        t0 = time.perf_counter()
        try:
            self.store.write(points)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            if len(idx) == 1:
                log.warning("store refused message %d's points: %s", idx[0], exc)
                return {idx[0]: str(exc)}
            mid = len(idx) // 2
            return {**self._write_groups(groups, idx[:mid]), **self._write_groups(groups, idx[mid:])}
        self.metrics.observe_write(time.perf_counter() - t0)
        self.metrics.count("points_written", len(points))
        self.metrics.count("batches_written")
        return {}

    def _turn_down(self, exc: Exception) -> None:
        if self.up:
            log.error("telemetry store unavailable (%s): spooling to %s", exc, self.spool.dir)
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
        try:
            self.store.ping()
            n = self.spool.replay(self._replay_write)
        except StoreUnavailable as exc:
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
        self.up = True
        self.metrics.store_up = True
        log.info("telemetry store is back: replayed %d spooled points", n)

    def _replay_write(self, points: list[Point]) -> None:
        """Write one spooled batch. A batch the store refuses as bad data would block the spool
        forever: it is logged with its size and skipped (counted in ``store_errors``)."""
        t0 = time.perf_counter()
        try:
            self.store.write(points)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            self.metrics.count("store_errors")
            log.error("store refused a spooled batch of %d points, skipped: %s", len(points), exc)
            return
        self.metrics.observe_write(time.perf_counter() - t0)
        self.metrics.count("points_replayed", len(points))
