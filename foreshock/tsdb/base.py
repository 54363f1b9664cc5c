"""The telemetry store interface: write points, read a unit's series over a time range.

Backends: :mod:`foreshock.tsdb.influx2` (influxdb-client, v2 API), :mod:`foreshock.tsdb.influx1`
(line protocol on ``/write``, InfluxQL on ``/query``) and :mod:`foreshock.tsdb.embedded` (SQLite).

Measurements written by ingest:

- ``telemetry``: tag ``device``; one float field per value name of the device protocol.
- ``vibration``: tags ``device``, ``axis``; feature fields (``rms_g``, ``peak_g``, ``crest``,
  ``kurtosis`` and whatever else the detectors compute) and ``fs``, ``n``, ``rpm``.
- ``health``: tag ``device``; ``state_code`` (0 healthy .. 3 alarm), scores, ``ttf_s``.

A point is identified by (measurement, tags, timestamp): writing it again overwrites it, which is
what makes redelivered messages harmless (idempotent writes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["Point", "PayloadTooLarge", "Row", "StoreAccessDenied", "StoreError", "StoreUnavailable", "TelemetryStore",
           "check_query_args"]

FieldValue = float | int | str | bool


@dataclass(frozen=True, slots=True)
class Point:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Row:
    ts_ms: int
    fields: dict[str, FieldValue] = field(default_factory=dict)


class StoreError(Exception):
    """The store refused the data (bad request): retrying will not help."""


class PayloadTooLarge(StoreError):
    """The request was larger than the store, or a proxy in front of it, takes (HTTP 413): not bad data;
    the same points in smaller requests are taken (ingest splits them)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or is overloaded: retry later (ingest spools meanwhile)."""


class StoreAccessDenied(StoreUnavailable):
    """The store refused the credentials or the target (HTTP 401, 403; a write's 404: no such
    database, bucket or organisation): a setting is wrong, not the data.

    Not retried (another try cannot succeed), but unavailable all the same: ingest spools the
    points and writes them once the setting is corrected, instead of dead-lettering every message
    as bad data. ``foreshock run`` checks for it at start (``check_access``) and stops there.
    """


@runtime_checkable
class TelemetryStore(Protocol):
    def write(self, points: list[Point]) -> None:
        """Durably write ``points`` (synchronous). Raises StoreUnavailable or StoreError."""

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
    ) -> list[Row]:
        """Rows of one device in ``[start_ms, end_ms)``, oldest first; ``every_ms`` averages into windows."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    def close(self) -> None:
        """Release connections (bounded in time)."""


def check_query_args(limit: int, every_ms: int | None) -> None:
    """The argument checks every backend's :meth:`TelemetryStore.query` shares."""
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    if every_ms is not None and every_ms <= 0:
        raise ValueError(f"every_ms must be positive, got {every_ms}")
