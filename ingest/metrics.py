"""Ingest counters and the write-latency histogram: a plain, thread-safe object the API can expose.

>>> m = IngestMetrics()
>>> m.count("received", 3); m.reject("bad_json"); m.observe_write(0.004)
>>> snap = m.snapshot()
>>> snap["received"], snap["rejected"], snap["write_latency_s"]["count"]
(3, {'bad_json': 1}, 1)
"""

from __future__ import annotations

import bisect
import threading
from typing import Any

__all__ = ["LATENCY_BUCKETS_S", "IngestMetrics"]

# Upper bounds of the write-latency buckets (seconds); a last +Inf bucket is implied.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

COUNTERS = (
    "received",  # messages handed over by the MQTT callback
    "accepted",  # valid messages (stored or spooled)
    "points_written",  # points written to the telemetry store
    "batches_written",
    "points_spooled",
    "batches_spooled",
    "points_replayed",  # spooled points written after the store came back
    "acked",
    "queue_full_waits",  # times the MQTT callback waited because the queue was full (backpressure)
    "spool_full_waits",  # times a batch was held unacknowledged because the spool was full
    "spool_write_errors",  # times the spool's disk refused a write (full, read-only): the batch was held
    "points_refused_on_replay",  # spooled points the store refused as bad data on replay (logged, skipped)
    "store_errors",  # write attempts that failed (before spooling)
    "dead_letter_errors",  # dead letters that could not be stored (logged, message still acknowledged)
    "hook_errors",  # exceptions raised by the on_batch hook
    "worker_errors",  # unexpected errors of the worker (the batch is retried, not acknowledged)
    "acks_of_old_connections_skipped",  # messages not acknowledged: they came on an earlier connection
    "deferred_at_stop",  # messages left unacknowledged at shutdown (the broker redelivers them)
    "retained_unknown_ignored",  # retained copies (old status) of unregistered devices, acknowledged, not kept
    "connections_dropped_early",  # broker connections closed within 30 s of connecting (client-id clash?)
)


class IngestMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._rejected: dict[str, int] = {}
        self._buckets = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self._latency_sum = 0.0
        self._latency_count = 0
        self._queue: Any = None
        self._queue_depth = 0
        self.spool_bytes = 0
        self.store_up = True

    def watch_queue(self, queue: Any) -> None:
        """Read the gauges ``queue_depth`` and ``queue_bytes`` from ``queue`` (an
        :class:`~ingest.buffer.HandOff`) when they are asked for. Set by the worker after it took a
        batch, the depth stood still while the worker waited on a slow store: near 0, while the
        queue filled up behind it."""
        self._queue = queue

    @property
    def queue_depth(self) -> int:
        """Messages queued between the MQTT thread and the worker."""
        return len(self._queue) if self._queue is not None else self._queue_depth

    @queue_depth.setter
    def queue_depth(self, value: int) -> None:
        self._queue_depth = value

    @property
    def queue_bytes(self) -> int:
        """Payload bytes ingest holds: queued, plus the batch being written (bounded by ``ingest.queue_bytes``)."""
        return self._queue.nbytes if self._queue is not None else 0

    def count(self, name: str, n: int = 1) -> None:
        if name not in self._counters:
            raise KeyError(f"unknown ingest counter {name!r}; known: {', '.join(COUNTERS)}")
        with self._lock:
            self._counters[name] += n

    def reject(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self._rejected[reason] = self._rejected.get(reason, 0) + n

    def observe_write(self, seconds: float) -> None:
        with self._lock:
            self._buckets[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
            self._latency_sum += seconds
            self._latency_count += 1

    def get(self, name: str) -> int:
        with self._lock:
            return self._counters[name]

    @property
    def rejected_total(self) -> int:
        with self._lock:
            return sum(self._rejected.values())

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain data (JSON-serialisable); histogram buckets are cumulative, as Prometheus has them."""
        with self._lock:
            cumulative, running = [], 0
            for bound, n in zip((*LATENCY_BUCKETS_S, float("inf")), self._buckets):
                running += n
                cumulative.append(("+Inf" if bound == float("inf") else bound, running))
            return {
                **self._counters,
                "rejected": dict(self._rejected),
                "rejected_total": sum(self._rejected.values()),
                "queue_depth": self.queue_depth,
                "queue_bytes": self.queue_bytes,
                "spool_bytes": self.spool_bytes,
                "store_up": self.store_up,
                "write_latency_s": {
                    "buckets": cumulative,
                    "sum": self._latency_sum,
                    "count": self._latency_count,
                },
            }

    def prometheus(self, prefix: str = "foreshock_ingest") -> str:
        """The counters in the Prometheus text format."""
        snap = self.snapshot()
        out = []
        for name in COUNTERS:
            out.append(f"# TYPE {prefix}_{name}_total counter\n{prefix}_{name}_total {snap[name]}")
        out.append(f"# TYPE {prefix}_rejected_total counter")
        out += [f'{prefix}_rejected_total{{reason="{r}"}} {n}' for r, n in sorted(snap["rejected"].items())]
        out.append(f"# TYPE {prefix}_queue_depth gauge\n{prefix}_queue_depth {snap['queue_depth']}")
        out.append(f"# TYPE {prefix}_queue_bytes gauge\n{prefix}_queue_bytes {snap['queue_bytes']}")
        out.append(f"# TYPE {prefix}_spool_bytes gauge\n{prefix}_spool_bytes {snap['spool_bytes']}")
        out.append(f"# TYPE {prefix}_store_up gauge\n{prefix}_store_up {int(snap['store_up'])}")
        hist = snap["write_latency_s"]
        out.append(f"# TYPE {prefix}_write_latency_seconds histogram")
        out += [f'{prefix}_write_latency_seconds_bucket{{le="{b}"}} {n}' for b, n in hist["buckets"]]
        out.append(f"{prefix}_write_latency_seconds_sum {hist['sum']}")
        out.append(f"{prefix}_write_latency_seconds_count {hist['count']}")
        return "\n".join(out) + "\n"
