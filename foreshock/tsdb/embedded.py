"""The embedded telemetry store: one SQLite file (WAL), no server.

A point is a row keyed by (measurement, device, tags, ts_ms); writing it again merges its fields
into the stored ones (``json_patch``), as InfluxDB does, so redelivered messages leave one point.
Writes commit with ``synchronous=FULL``: when :meth:`EmbeddedStore.write` returns, the batch is on disk.

>>> import tempfile, pathlib
>>> store = EmbeddedStore(pathlib.Path(tempfile.mkdtemp()) / "t.db")
>>> store.write([Point("telemetry", {"device": "P-1"}, {"t": 1.0}, 1000),
...              Point("telemetry", {"device": "P-1"}, {"t": 3.0}, 1500)])
>>> [(r.ts_ms, r.fields) for r in store.query("telemetry", "P-1", 0, 2000, every_ms=1000)]
[(1000, {'t': 2.0})]
>>> store.close()
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from foreshock.tsdb.base import FieldValue, Point, Row, StoreError, StoreUnavailable, check_query_args

__all__ = ["EmbeddedStore", "downsample"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    device TEXT NOT NULL,
    tags TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (measurement, device, tags, ts_ms)
) WITHOUT ROWID
"""
_UPSERT = (
    "INSERT INTO points (measurement, device, tags, ts_ms, fields) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (measurement, device, tags, ts_ms) DO UPDATE SET fields = json_patch(fields, excluded.fields)"
)


def downsample(rows: Iterable[Row], every_ms: int) -> list[Row]:
    """Average numeric fields into windows ``[k*every_ms, (k+1)*every_ms)``, stamped at the window start."""
    if every_ms <= 0:
        raise ValueError(f"every_ms must be positive, got {every_ms}")
    out: list[Row] = []
    window: int | None = None
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}

    def emit() -> None:
        if window is not None and sums:
            out.append(Row(window, {k: sums[k] / counts[k] for k in sums}))

    for row in rows:
        w = row.ts_ms - row.ts_ms % every_ms
        if w != window:
            emit()
            window, sums, counts = w, {}, {}
        for k, v in row.fields.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + 1
    emit()
    return out


def _tag_key(tags: dict[str, str]) -> str:
    return ",".join(f"{k}={tags[k]}" for k in sorted(tags) if k != "device")


class EmbeddedStore:
    """SQLite telemetry store; safe to share between threads (one connection behind a lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open the embedded telemetry store {self.path}: {exc}") from exc
        self._lock = threading.Lock()
        self._closed = False

    def write(self, points: list[Point]) -> None:
        rows = []
        for p in points:
            device = p.tags.get("device")
            if not device:
                raise StoreError(f"point of {p.measurement!r} at {p.ts_ms} has no 'device' tag")
            fields = {k: v for k, v in p.fields.items() if not (isinstance(v, float) and math.isnan(v))}
            rows.append((p.measurement, device, _tag_key(p.tags), int(p.ts_ms), json.dumps(fields)))
        with self._lock:
            self._check_open()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(_UPSERT, rows)
                self._conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._rollback()
                raise StoreUnavailable(f"embedded store {self.path}: {exc}") from exc
            except (sqlite3.Error, ValueError) as exc:
                self._rollback()
                raise StoreError(f"embedded store {self.path}: {exc}") from exc

    def query(
        self,
        measurement: str,
        device: str,
        start_ms: int,
        end_ms: int,
        fields: list[str] | None = None,
        *,
        every_ms: int | None = None,
        limit: int = 10_000,
        tags: dict[str, str] | None = None,
    ) -> list[Row]:
        check_query_args(limit, every_ms)
        sql = "SELECT ts_ms, fields FROM points WHERE measurement = ? AND device = ? AND ts_ms >= ? AND ts_ms < ?"
        args: list[object] = [measurement, device, int(start_ms), int(end_ms)]
        if tags:
            sql += " AND tags = ?"
            args.append(_tag_key(tags))
        sql += " ORDER BY ts_ms"
        if every_ms is None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            self._check_open()
            try:
                cursor = self._conn.execute(sql, args)
                raw = cursor.fetchall()
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"embedded store {self.path}: {exc}") from exc
        rows = []
        for ts, blob in raw:
            values: dict[str, FieldValue] = json.loads(blob)
            if fields is not None:
                values = {k: values[k] for k in fields if k in values}
                if not values:
                    continue
            rows.append(Row(ts, values))
        if every_ms is not None:
            rows = downsample(rows, every_ms)[:limit]
        return rows

    def ping(self) -> None:
        with self._lock:
            self._check_open()
            try:
                self._conn.execute("SELECT 1").fetchone()
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"embedded store {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable(f"embedded store {self.path} is closed")

    def _rollback(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
