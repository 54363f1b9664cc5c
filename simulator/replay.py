"""Replay a recorded dataset (``series``, ``record`` or ``run``) as one device over MQTT.

- a **run** sends its snapshots at their times ``t``;
- a **record** is cut into snapshots of ``snapshot_n`` samples sent every ``interval_s``;
- a **series** sends each row as telemetry named ``value_name`` (default: the sidecar's ``value``,
  else ``value``).

Times are shifted so that the replay ends at about "now" when accelerated (the platform refuses
timestamps more than 5 minutes ahead) and starts now at speed 1, as in :mod:`simulator.publisher`.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from devices.protocol import is_valid_value_name, status_payload, telemetry_payload, topic, vibration_payload
from foreshock.datasets import Record, Run, read
from simulator.mqttpool import ClientPool

__all__ = ["replay_dataset", "replay_messages"]

log = logging.getLogger(__name__)


def _vibration(ts_ms: int, *, seq: int, samples: np.ndarray, fs: float, rpm: float | None) -> bytes:
    return vibration_payload(ts_ms, seq, samples, fs, rpm=rpm)


def _telemetry(ts_ms: int, *, seq: int, values: dict[str, float]) -> bytes:
    return telemetry_payload(ts_ms, seq, values)


def replay_messages(
    path: str | Path,
    *,
    snapshot_n: int = 4096,
    interval_s: float = 10.0,
    value_name: str | None = None,
    duration_s: float | None = None,
) -> tuple[list[tuple[float, str, Callable[[int], bytes]]], float]:
    """``([(t_s, kind, payload(ts_ms)), ...], span_s)``: the messages of a dataset on its own clock;
    with ``duration_s`` only those of its first ``duration_s`` seconds."""
    data = read(path)
    out: list[tuple[float, str, Callable[[int], bytes]]] = []
    if isinstance(data, (Run, Record)):
        fs, rpm = data.fs, data.rpm or None
        if isinstance(data, Run):
            times, rows = data.t.tolist(), list(data.x.astype(np.float32))
        else:
            n = min(snapshot_n, data.x.size)
            rows = [data.x[k * n : (k + 1) * n].astype(np.float32) for k in range(data.x.size // n)]
            times = [k * interval_s for k in range(len(rows))]
        for seq, (t, row) in enumerate(zip(times, rows)):
            out.append((t, "vibration", partial(_vibration, seq=seq, samples=row, fs=fs, rpm=rpm)))
    else:
        name = value_name or str(data.meta.get("value", "value"))
        if not is_valid_value_name(name):
            raise ValueError(f"value name {name!r} is not allowed by the device protocol ([a-z][a-z0-9_]*)")
        t_ms = data.t_ms
        t0 = int(t_ms.min()) if t_ms.size else 0
        for seq, (t, v) in enumerate(zip(t_ms.tolist(), data.values.tolist())):
            out.append(((t - t0) / 1000, "telemetry", partial(_telemetry, seq=seq, values={name: v})))
    if duration_s is not None:
        out = [m for m in out if m[0] <= duration_s]
    span = max((m[0] for m in out), default=0.0)
    return out, span


def _schedule(
    messages: list, speed: float, start_ms: int | None, span_s: float
) -> Iterator[tuple[float, int, Any]]:
    if start_ms is None:
        start_ms = int(time.time() * 1000 - (span_s * 1000 if speed > 1 else 0))
    wall0 = time.time()
    for t, kind, build in messages:
        ts_ms = start_ms + int(t * 1000)
        yield max(wall0 + t / speed, ts_ms / 1000), ts_ms, (kind, build)


def replay_dataset(
    path: str | Path,
    mqtt_url: str,
    device_id: str,
    *,
    speed: float = 1.0,
    start_ms: int | None = None,
    username: str | None = None,
    password: str | None = None,
    stop_event: threading.Event | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    topic_root: str = "foreshock",
    **options: Any,
) -> dict[str, Any]:
    """Publish dataset ``path`` as device ``device_id``; returns ``{"messages", "bytes", "elapsed_s"}``."""
    if not speed > 0:
        raise ValueError(f"speed must be positive, got {speed!r}")
    messages, span = replay_messages(path, **options)
    parts = urlsplit(mqtt_url)
    pool = ClientPool(parts.hostname or "127.0.0.1", parts.port or 1883, tls=parts.scheme in ("mqtts", "ssl"))
    pool.add(
        device_id,
        username=username,
        password=password,
        will_topic=topic(device_id, "status", topic_root),
        will_payload=status_payload("offline"),
    )
    pool.connect_all()
    stop_event = stop_event or threading.Event()
    stats = {"messages": 0, "bytes": 0, "total": len(messages), "elapsed_s": 0.0}
    t_start = time.time()
    last = 0.0
    try:
        pool.publish(
            device_id,
            topic(device_id, "status", topic_root),
            status_payload("online", int(t_start * 1000)),
            retain=True,
        )
        for send_at, ts_ms, (kind, build) in _schedule(messages, speed, start_ms, span):
            while (wait := send_at - time.time()) > 0 and not stop_event.is_set():
                pool.service(min(wait, 0.2))
            if stop_event.is_set():
                break
            payload = build(ts_ms)
            if pool.publish(device_id, topic(device_id, kind, topic_root), payload):
                stats["messages"] += 1
                stats["bytes"] += len(payload)
                if stats["messages"] % 100 == 0:
                    pool.service(0)
            if progress and time.time() - last >= 1.0:
                last = time.time()
                progress({**stats, "elapsed_s": round(last - t_start, 3)})
        pool.flush(10.0)
        pool.publish(
            device_id,
            topic(device_id, "status", topic_root),
            status_payload("offline", int(time.time() * 1000)),
            retain=True,
        )
        pool.flush(5.0)
    finally:
        pool.close()
    stats["elapsed_s"] = round(time.time() - t_start, 3)
    log.debug("replayed %s as %s: %d messages", path, device_id, stats["messages"])
    return stats
