"""The ingest service: MQTT in, telemetry store (or spool) and dead letters out, then hand-off.

One worker thread takes raw messages from the bounded queue in batches (up to
``telemetry.batch_size`` messages or ``telemetry.flush_interval_s``), validates and converts them
(:class:`~ingest.pipeline.Converter`), writes the points durably (:class:`~ingest.writer.StoreWriter`),
stores the dead letters, acknowledges every message of the batch to the broker, and finally
calls ``on_batch`` with the accepted messages (telemetry, vibration and status). The worker holds
no per-device state, so several services (processes) can share ``$share/<group>/`` subscriptions.

Usage::

    service = IngestService(settings, store, dead_letters, device_check=registry.is_known,
                            auto_register=settings.ingest.auto_register, on_batch=pipeline.handle)
    service.start()
    ...
    service.stop(timeout_s=10)
"""

from __future__ import annotations

import gc
import logging
import operator
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from detectors.types import MachineInfo
from devices.protocol import DEFAULT_LIMITS, Reason
from foreshock.db import log_failure
from foreshock.durations import duration_text
from foreshock.tsdb.base import Point, TelemetryStore
from ingest.buffer import HandOff
from ingest.deadletter import DeadLetterStore, NewDeadLetter
from ingest.metrics import IngestMetrics
from ingest.mqtt import MqttSource
from ingest.pipeline import Accepted, Converter
from ingest.ratelimit import DeviceRateLimiter
from ingest.spool import Spool
from ingest.types import IngestedMessage, RawMessage
from ingest.writer import Outcome, StoreWriter

__all__ = ["IngestService"]

log = logging.getLogger(__name__)


class IngestService:
    def __init__(
        self,
        settings: Any,  # foreshock.settings.Settings
        store: TelemetryStore,
        dead_letters: DeadLetterStore,
        *,
        device_check: Callable[[str], bool] | None,
        auto_register: bool | Callable[[str], None] = False,
        on_batch: Callable[[list[IngestedMessage]], None] | None = None,
        machine_info: Callable[[str], MachineInfo | None] | None = None,
        client_id: str | None = None,
        probe_interval_s: float = 2.0,
        freeze_gc: bool = True,
    ) -> None:
        self.settings = settings
        self.store = store
        self.dead_letters = dead_letters
        self.on_batch = on_batch
        self.metrics = IngestMetrics()
        self.batch_size = settings.telemetry.batch_size
        self.flush_interval_s = settings.telemetry.flush_interval_s
        self.linger_s = min(self.flush_interval_s, 0.01)
        limits = DEFAULT_LIMITS.__class__(
            max_payload_bytes=settings.ingest.max_payload_bytes, future_tolerance_s=settings.ingest.future_tolerance_s
        )
        self.converter = Converter(
            device_check=device_check,
            auto_register=auto_register,
            machine_info=machine_info,
            topic_root=settings.mqtt.topic_root,
            limits=limits,
        )
        self._queue: HandOff[RawMessage] = HandOff(settings.ingest.queue_size, settings.ingest.queue_bytes)
        self.metrics.watch_queue(self._queue)
        rate = settings.ingest.rate_limit_per_s
        self.rate_limiter = DeviceRateLimiter(rate) if rate else None
        self._client_id = client_id
        self._probe_interval_s = probe_interval_s
        self._freeze_gc = freeze_gc
        self._stopping = threading.Event()
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None
        self.source: MqttSource | None = None
        self.spool: Spool | None = None
        self.writer: StoreWriter | None = None
        self._unreported: Counter[str] = Counter()  # rejections not yet in a log line, by reason
        self._latest_rejection: NewDeadLetter | None = None
        self._future_by_unit: dict[str, float] = {}  # unreported future_timestamp: unit -> seconds ahead
        self._next_rejection_report = 0.0
        self._in_hand_since: float | None = None  # receive time of the oldest message of the batch in hand
        self._batch_times: deque[tuple[float, int]] = deque(maxlen=8)  # the last batches: (seconds, messages)
        self._drain_until = float("inf")  # stopping: no batch is begun that would end after this (monotonic)
        self._batch_began: float | None = None  # when the worker began the batch in hand (monotonic)
        self.left_running: threading.Thread | None = None  # after stop(): the worker, if still busy at its bound
        self._in_detectors = False  # the worker is in on_batch: the batch in hand is stored and acknowledged

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, connect_timeout_s: float = 10.0) -> None:
        if self._thread is not None:
            raise RuntimeError("ingest service already started")
        self._stopping.clear()
        self._abort.clear()
        self._drain_until = float("inf")
        if self.rate_limiter is not None:
            log.info("per-device rate limit: %.1f messages/s (per ingest worker)", self.rate_limiter.rate_per_s)
        if self._freeze_gc:
            # Everything loaded so far (modules, settings, registry caches) moves out of the
            # collector's reach: each collection then scans only the young objects of the stream.
            # Measured: about a quarter less CPU per message (bench/ingest_throughput.py).
            # Collect first, so that no garbage is frozen with the live objects.
            gc.collect()
            gc.freeze()
        self.spool = Spool(self.settings.spool_dir, max_bytes=self.settings.ingest.spool_max_bytes)
        self.writer = StoreWriter(self.store, self.spool, self.metrics, probe_interval_s=self._probe_interval_s,
                                  stopping=self._stopping)
        self.writer.check()
        self.source = MqttSource(self.settings.mqtt, self._queue, self.metrics, client_id=self._client_id)
        self._thread = threading.Thread(target=self._run, name="ingest-worker", daemon=True)
        self._thread.start()
        self.source.start(connect_timeout_s)

    @property
    def connected(self) -> bool:
        return self.source is not None and self.source.connected

    @property
    def ready(self) -> bool:
        """Connected to the broker and the worker is running (the store may be down: then it spools)."""
        return self.connected and self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop taking messages, write what is queued as far as ``timeout_s`` allows, acknowledge it,
        disconnect. The whole stop is bounded by ``timeout_s``.

        The worker finishes the batch in hand, then begins only batches that, at the pace of the last
        ones, take at most half the time left before the bound (less a reserve for the disconnect):
        what is still queued then is left unacknowledged, and the broker sends it again to the next
        session. (A full queue was written to the end first: with a slow store or slow detectors the
        stop ran into the bound, then waited up to 5 s more for the batch in hand, whose messages were
        acknowledged and handed on after the stop had gone on, and up to 5 s for the spool.) Returns
        ``False`` when the batch in hand was not done in time: it is left unacknowledged too.
        """
        if self._thread is None or self.source is None:
            return True
        deadline = time.monotonic() + timeout_s
        reserve = min(1.0, 0.1 * timeout_s)  # for the disconnect and closing the spool
        self._drain_until = deadline - reserve
        self.source.pause()
        self._stopping.set()
        self._thread.join(max(0.0, self._drain_until - time.monotonic()))
        finished = not self._thread.is_alive()
        if not finished and self._in_detectors:
            log.warning("ingest worker still handing a batch to the detectors after %.1f s: stopping without it; its "
                        "messages are stored and acknowledged", timeout_s - reserve)
        elif not finished:
            log.warning("ingest worker still writing a batch after %.1f s (the store or the detectors answer "
                        "slowly): stopping without it; it is left unacknowledged and the broker sends it again",
                        timeout_s - reserve)
        if not finished:
            self._abort.set()
            self._thread.join(max(0.0, deadline - reserve / 2 - time.monotonic()))
        self.left_running = self._thread if self._thread.is_alive() else None
        if self.left_running is not None:
            began = self._batch_began
            log.error("ingest worker (thread %s) still busy with a batch begun %s at the stop's bound (%s): left "
                      "running", self.left_running.name, "?" if began is None else f"{time.monotonic() - began:.1f} s ago",
                      "in the detectors, stored and acknowledged" if self._in_detectors
                      else "not acknowledged: the broker sends it again")
        self.source.stop()
        if self.spool is not None:
            self.spool.close(max(0.1, deadline - time.monotonic()))
            self._say_spooled()
        self._thread = None
        return finished

    def _say_spooled(self) -> None:
        """Name what a stop leaves in the spool (the store was down): acknowledged telemetry that only a later
        start writes, and that a data folder wiped or moved meanwhile would lose."""
        try:
            left = self.spool.size_bytes if self.spool is not None else 0
        except OSError:  # the folder went away: the spool's own errors said so
            return
        if left:
            log.warning("%d bytes of telemetry (acknowledged to the broker) still spooled in %s: the next start writes "
                        "them to the store when it answers; keep that folder (data_dir) until then", left, self.spool.dir)

    def report_rejections(self, rejected: list[NewDeadLetter], every_s: float = 10.0,
                          now: float | None = None) -> None:
        """Log rejected messages: the first at once, then a summary at most every ``every_s``.

        A firmware team bringing a unit up sees in the service's log that, and why, its messages are
        refused (they were logged only at DEBUG: nothing showed without the dead-letter API). A
        flood of bad messages makes one line per ``every_s``, naming the counts per reason and the
        latest message. Called with an empty list when idle, so the last summary is not held back.
        ``now`` is ``time.monotonic()`` unless given.
        """
        if rejected:
            self._unreported.update(d.reason for d in rejected)
            self._latest_rejection = rejected[-1]
            for d in rejected:
                if d.reason == Reason.FUTURE_TIMESTAMP.value and d.device_id:
                    found = _AHEAD.search(d.detail)
                    if found:
                        self._future_by_unit[d.device_id] = float(found.group(1))
        now = time.monotonic() if now is None else now
        if not self._unreported or now < self._next_rejection_report:
            return
        last = self._latest_rejection
        assert last is not None
        total = sum(self._unreported.values())
        counts = ", ".join(f"{reason} {n}" for reason, n in self._unreported.most_common())
        hint = _clock_hint(self._future_by_unit, self._unreported[Reason.FUTURE_TIMESTAMP.value], total)
        log.warning("rejected %d message(s) (%s); latest from %s on %s: %s: %s (all: GET /api/v1/dead-letters)%s",
                    total, counts, last.device_id or "?", last.topic[:200], last.reason, last.detail[:300], hint)
        self._unreported.clear()
        self._future_by_unit.clear()
        self._next_rejection_report = now + every_s

    def write_derived(self, points: list[Point]) -> None:
        """Write points derived from an accepted batch (the detectors' health) as durably as telemetry.

        They go through the same writer: to the store, or to the spool while it is down (replayed
        with the rest when it returns), never retried for ``telemetry.max_retry_time_s`` on the
        worker. The writer belongs to the worker thread: called from any other thread (a tool, a
        test driving ``on_batch`` itself) the points go to the store directly, and its errors to
        the caller. Points the store refuses as bad data are logged.
        """
        if not points:
            return
        if self.writer is None or threading.current_thread() is not self._thread:
            self.store.write(points)
            return
        outcome, refused = self.writer.write([points], self._abort)
        if refused:
            log.warning("store refused %d derived points: %s", len(points), refused[0])
        elif outcome is Outcome.HELD:
            log.warning("%d derived points not written: stopping with the spool full", len(points))

    def heard_until(self) -> float | None:
        """Up to when what ingest received has been handed on (stored, and seen by the detectors and
        the units' last-seen times): the receive time of the oldest message still in hand, queued or
        in the batch being written; None when nothing waits. The deadman judges silence up to here: a
        backlog (ingest behind, the store slow) is not silence, and it raised "unit silent" for every
        unit of a fleet at once while all of them were sending."""
        times = [t for t in (self._in_hand_since, getattr(self._queue.oldest(), "received_at", None)) if t is not None]
        return min(times) if times else None

    # -- the worker -----------------------------------------------------------------------------

    def _next_batch(self, limit: int | None = None) -> list[RawMessage]:
        """Up to ``batch_size`` (or ``limit``) messages.

        A batch is closed when it is full, when no message arrived for ``linger_s`` (the stream
        paused: write now rather than wait), or ``flush_interval_s`` after its first message. Under
        load batches fill up while the previous one is written; at low rates latency stays low.
        """
        size = self.batch_size if limit is None else min(limit, self.batch_size)
        batch = self._queue.take(size, 0.2)
        if not batch:
            return batch
        deadline = time.monotonic() + self.flush_interval_s
        while len(batch) < size and not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._queue.take(size - len(batch), min(remaining, self.linger_s))
            if not more:
                break
            batch.extend(more)
        return batch

    def _run(self) -> None:
        try:
            self._work()
        finally:
            if self._stopping.is_set():
                self._leave_queued()

    def _work(self) -> None:
        assert self.writer is not None
        while not self._abort.is_set():
            limit = self._room_before_the_bound() if self._stopping.is_set() else None
            if limit == 0:
                return  # no time for another batch: the rest is left to the broker
            batch = self._next_batch(limit)
            if not batch:
                if self._stopping.is_set():
                    return
                self.writer.maintain()
                self.report_rejections([])
                continue
            self.metrics.count("received", len(batch))
            self._in_hand_since = batch[0].received_at
            began = self._batch_began = time.monotonic()
            try:
                while not self._process_guarded(batch):
                    if self._abort.wait(1.0):
                        self.metrics.count("deferred_at_stop", len(batch))
                        return
            finally:
                self._queue.done(_payload_bytes(batch))  # no longer counted against ingest.queue_bytes
                self._in_hand_since = self._batch_began = None
            self._batch_times.append((time.monotonic() - began, len(batch)))

    def _room_before_the_bound(self) -> int | None:
        """Stopping: how many messages the next batch may have, so that it takes at most half the time
        left before the stop's bound, foreseen from the last batches on the safe side: the longest of
        them, plus their slowest cost per message for each message. Half: a batch that takes twice as
        long as foreseen still ends in time. 0: no time for another; None: nothing to go by yet.

        (With the quickest of them as the cost per batch, the stop of a pipeline flooded with
        snapshots ran into its bound: the detection hook's time per batch varies.)"""
        if not self._batch_times:
            return None
        half = (self._drain_until - time.monotonic()) / 2
        longest = max(t for t, _ in self._batch_times)
        per_message = max(t / n for t, n in self._batch_times)
        if half <= longest:
            return 0
        return int((half - longest) / per_message) if per_message > 0 else None

    def _leave_queued(self) -> None:
        """Stopping: what is still queued (no time was left to write it) is dropped from memory
        unacknowledged (counted in ``deferred_at_stop``); the broker sends it again to the next session."""
        left = self._queue.take(len(self._queue), 0.0)
        self._queue.done(_payload_bytes(left))
        if left:
            self.metrics.count("deferred_at_stop", len(left))
            log.info("stopping: %d queued messages left unacknowledged for the broker to send again (no time left "
                     "to write them within the stop's bound)", len(left))

    def _process_guarded(self, batch: list[RawMessage]) -> bool:
        """:meth:`_process`, but an unexpected error keeps the batch (unacknowledged) for a retry
        instead of killing the worker; it is logged and counted (``worker_errors``)."""
        try:
            return self._process(batch)
        except Exception:
            self.metrics.count("worker_errors")
            log.exception("ingest worker failed on a batch of %d messages; retrying it", len(batch))
            return False

    def _rate_limit(self, accepted: list[Accepted], rejected: list[NewDeadLetter]) -> list[Accepted]:
        """Dead-letter (``rate_limited``) the messages of devices over ``ingest.rate_limit_per_s``."""
        assert self.rate_limiter is not None
        kept: list[Accepted] = []
        for a in accepted:
            if a.message.kind == "status" or self.rate_limiter.allow(a.message.device_id, _sent_at(a)):
                kept.append(a)
            else:
                rejected.append(NewDeadLetter(
                    Reason.RATE_LIMITED.value, a.raw.topic, a.raw.payload, a.raw.received_at, a.message.device_id,
                    f"device {a.message.device_id!r} is over ingest.rate_limit_per_s="
                    f"{self.rate_limiter.rate_per_s:g} messages/s",
                ))
        return kept

    def _process(self, batch: list[RawMessage]) -> bool:
        """Handle one batch end to end; ``False`` means: retry it (nothing was acknowledged)."""
        assert self.writer is not None and self.source is not None
        try:
            accepted, rejected = self.converter.convert(batch)
        except Exception:  # the device check (registry) failed: keep the batch, try again
            # one line for an unreachable database (it was a traceback every second of an outage)
            log_failure(log, f"device check failed (the batch of {len(batch)} messages is retried)")
            return False
        ignored = len(batch) - len(accepted) - len(rejected)  # retained copies of unregistered devices
        if ignored:
            self.metrics.count("retained_unknown_ignored", ignored)
        if self.rate_limiter is not None:
            accepted = self._rate_limit(accepted, rejected)
        outcome, refused = self.writer.write([a.points for a in accepted], self._abort)
        if outcome is Outcome.HELD or self._abort.is_set():
            # the stop went on without this batch (past its bound): not acknowledged, no dead letters, no
            # hook (the detectors may be closed by now); the broker sends it again, rewriting it is harmless
            self.metrics.count("deferred_at_stop", len(batch))
            return True
        for i, error in refused.items():
            a = accepted[i]
            rejected.append(
                NewDeadLetter(Reason.STORE_REJECTED.value, a.raw.topic, a.raw.payload, a.raw.received_at,
                              a.message.device_id, error[:2000])
            )
        if refused:
            accepted = [a for i, a in enumerate(accepted) if i not in refused]
        if rejected:
            try:
                self.dead_letters.add_many(rejected)
            except Exception:  # the relational store failed: the bad messages are logged, not kept
                self.metrics.count("dead_letter_errors", len(rejected))
                log.exception("could not store %d dead letters", len(rejected))
            for d in rejected:
                self.metrics.reject(d.reason)
                log.debug("rejected %s from %s: %s", d.reason, d.topic, d.detail)
        self.report_rejections(rejected)
        self.metrics.count("accepted", len(accepted))
        self.source.ack_many(batch)
        self.metrics.count("acked", len(batch))
        if self.on_batch is not None and accepted:
            self._in_detectors = True
            try:
                self.on_batch([a.message for a in accepted])
            except Exception:
                self.metrics.count("hook_errors")
                log.exception("on_batch hook failed for a batch of %d messages", len(accepted))
            finally:
                self._in_detectors = False
        return True


_AHEAD = re.compile(r" is (\d+) s in the future")  # devices.protocol's future_timestamp detail


def _clock_hint(ahead_by_unit: dict[str, float], future: int, total: int) -> str:
    """When at least 3 units, most of the rejections, are refused as in the future by a similar offset, the
    server's clock is more likely behind than every unit's ahead: say so, with the offset (a clock already
    wrong at start dead-lettered every unit's messages as ``future_timestamp`` with no hint)."""
    if len(ahead_by_unit) < 3 or future * 2 <= total:
        return ""
    offsets = sorted(ahead_by_unit.values())
    median = offsets[len(offsets) // 2]
    tolerance = max(60.0, 0.1 * median)
    similar = [o for o in offsets if abs(o - median) <= tolerance]
    if len(similar) < 3 or len(similar) * 2 <= len(offsets):
        return ""
    about = sum(similar) / len(similar)
    return (f"; {len(similar)} units are refused as about {duration_text(about)} in the future: the server's clock is "
            f"likely behind by about {duration_text(about)} (check timedatectl / NTP)")


def _payload_bytes(batch: list[RawMessage]) -> int:
    """What messages taken from the queue weighed against ``ingest.queue_bytes`` (:meth:`MqttSource._on_message`
    weighs each by its payload)."""
    return sum(map(len, map(_PAYLOAD, batch)))


_PAYLOAD = operator.itemgetter(1)  # RawMessage.payload


def _sent_at(a: Accepted) -> float:
    """The rate limiter's clock for a message: when the unit stamped it, if that is earlier than its
    receipt, else when it was received.

    A backlog (messages the broker kept while the platform was down, or a unit's own buffer after a
    network outage) arrives at once but was sent at the unit's pace, so it passes; a flood stamped
    close together, or stamped now, is limited as before.
    """
    m = a.message.parsed
    stamped = m.snapshot.ts_ms if m.snapshot is not None else max((r.ts_ms for r in m.records), default=None)
    return a.raw.received_at if stamped is None else min(a.raw.received_at, stamped / 1000.0)
