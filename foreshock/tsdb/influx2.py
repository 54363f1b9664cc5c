"""InfluxDB v2 API backend through influxdb-client: writes to ``/api/v2/write``, Flux reads.

The client's synchronous write API is used with our own batching (ingest hands in whole batches)
and our own line-protocol encoder; failures are retried per :class:`Retry` (only 429, 5xx and
connection errors), and :meth:`Influx2Store.close` is bounded by the HTTP timeout. Reads are Flux
queries; ``every_ms`` becomes ``aggregateWindow(fn: mean)``, stamped at the window start.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import urllib3
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from foreshock.tsdb.base import Point, Row, StoreAccessDenied, StoreError, StoreUnavailable, check_query_args
from foreshock.tsdb.httperrors import (
    check_store_access,
    error_for_status,
    ping_refused,
    tls_problem,
    unavailable,
)
from foreshock.tsdb.lineprotocol import encode_points
from foreshock.tsdb.retry import Retry

__all__ = ["Influx2Store", "flux_query", "flux_string"]

log = logging.getLogger(__name__)

_NOT_FIELDS = {"result", "table", "_start", "_stop", "_time", "_measurement"}


def flux_string(value: str) -> str:
    """A Flux string literal.

    >>> flux_string('a"b')
    '"a\\\\"b"'
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${") + '"'


def _rfc3339(ts_ms: int) -> str:
    dt = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts_ms) % 1000:03d}Z"


def flux_query(
    bucket: str,
    measurement: str,
    device: str,
    start_ms: int,
    end_ms: int,
    fields: list[str] | None = None,
    *,
    every_ms: int | None = None,
    limit: int = 10_000,
    tags: dict[str, str] | None = None,
) -> str:
    """The Flux text of a :meth:`Influx2Store.query`.

    >>> print(flux_query("b", "telemetry", "P-1", 0, 1000, ["t"], every_ms=500, limit=10))
    from(bucket: "b")
      |> range(start: 1970-01-01T00:00:00.000Z, stop: 1970-01-01T00:00:01.000Z)
      |> filter(fn: (r) => r._measurement == "telemetry" and r.device == "P-1")
      |> filter(fn: (r) => r._field == "t")
      |> aggregateWindow(every: 500ms, fn: mean, createEmpty: false, timeSrc: "_start")
      |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
      |> group()
      |> sort(columns: ["_time"])
      |> limit(n: 10)
    """
    cond = [f"r._measurement == {flux_string(measurement)}", f"r.device == {flux_string(device)}"]
    cond += [f"r[{flux_string(k)}] == {flux_string(v)}" for k, v in (tags or {}).items() if k != "device"]
    lines = [
        f"from(bucket: {flux_string(bucket)})",
        f"  |> range(start: {_rfc3339(start_ms)}, stop: {_rfc3339(end_ms)})",
        f"  |> filter(fn: (r) => {' and '.join(cond)})",
    ]
    if fields:
        lines.append(f"  |> filter(fn: (r) => {' or '.join(f'r._field == {flux_string(f)}' for f in fields)})")
    if every_ms is not None:
        lines.append(f'  |> aggregateWindow(every: {int(every_ms)}ms, fn: mean, createEmpty: false, timeSrc: "_start")')
    lines += [
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
        "  |> group()",
        '  |> sort(columns: ["_time"])',
        f"  |> limit(n: {int(limit)})",
    ]
    return "\n".join(lines)


class Influx2Store:
    def __init__(
        self,
        url: str,
        token: str,
        org: str,
        bucket: str,
        *,
        timeout_s: float = 10.0,
        retry: Retry | None = None,
    ) -> None:
        if not token:
            raise ValueError("telemetry.token is required for the influx2 backend")
        if not bucket:
            raise ValueError("telemetry.bucket must not be empty for the influx2 backend")
        self.url = url.rstrip("/")
        self.org = org
        self.bucket = bucket
        self.retry = retry or Retry()
        self.timeout_s = timeout_s
        self._token = token
        self._client = InfluxDBClient(url=self.url, token=token, org=org, timeout=int(timeout_s * 1000), retries=False)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._query_api = self._client.query_api()

    @classmethod
    def from_settings(cls, telemetry: Any) -> Influx2Store:
        if telemetry.token is None:
            raise ValueError("telemetry.token is required for the influx2 backend")
        return cls(
            telemetry.url,
            telemetry.token.get_secret_value(),
            telemetry.org,
            telemetry.bucket,
            timeout_s=telemetry.timeout_s,
            retry=Retry(max_retries=telemetry.max_retries, max_retry_time_s=telemetry.max_retry_time_s),
        )

    def write(self, points: list[Point]) -> None:
        body = encode_points(points)
        if body:
            self.write_lines(body)

    def write_lines(self, body: bytes) -> None:
        """Write an already encoded line-protocol body (millisecond timestamps)."""

        def once() -> None:
            try:
                self._write_api.write(self.bucket, self.org, record=body,
                                       write_precision=WritePrecision.MS)  # type: ignore[arg-type]
            except ApiException as exc:
                raise _convert(exc, "influx2 write", not_found_is_access=True) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise unavailable(exc, self.url, "influx2 write", self.timeout_s) from exc

        self.retry.call(once, "influx2 write")

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
        q = flux_query(self.bucket, measurement, device, start_ms, end_ms, fields, every_ms=every_ms, limit=limit, tags=tags)

        def once() -> list:
            try:
                return self._query_api.query(q, org=self.org)
            except ApiException as exc:
                err = _convert(exc, "influx2 query")
                if exc.status in (400, 404) and not isinstance(err, StoreUnavailable):
                    # victoria-metrics: 'unsupported path requested: "/api/v2/query"'
                    err = StoreError(f"{err} (does the server at {self.url} answer Flux queries on /api/v2/query? "
                                     "victoria-metrics takes the influx2 backend's writes, not its reads)")
                raise err from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise unavailable(exc, self.url, "influx2 query", self.timeout_s) from exc
            except InfluxDBError as exc:
                raise StoreError(f"influx2 query: {exc}") from exc

        tables = self.retry.call(once, "influx2 query")
        rows: list[Row] = []
        for table in tables:
            field_names = [c.label for c in table.columns if not c.group and c.label not in _NOT_FIELDS]
            field_names = [f for f in field_names if f not in (tags or {}) and f not in ("device", "axis")]
            for record in table.records:
                values = {f: record.values[f] for f in field_names if record.values.get(f) is not None}
                if values:
                    t = record.values["_time"]
                    rows.append(Row(round(t.timestamp() * 1000), values))
        rows.sort(key=lambda r: r.ts_ms)
        return rows[:limit]

    def ping(self) -> None:
        """GET /health (InfluxDB 2.x, 3.x and VictoriaMetrics all answer it; InfluxDB 3 wants the token).
        :class:`StoreAccessDenied` when what answers there is not a store's health check: ingest replays
        the spool only once the ping passes."""
        try:
            resp = httpx.get(f"{self.url}/health", headers={"Authorization": f"Token {self._token}"},
                             timeout=min(self.timeout_s, 5.0))
        except httpx.HTTPError as exc:
            raise unavailable(exc, self.url, "influx2 ping") from exc
        if resp.is_success:
            return
        raise ping_refused(resp.status_code, resp.text, self.url, "influx2 ping")

    def check_access(self) -> None:
        """Raise :class:`StoreAccessDenied` when the store refuses the token, the organisation or the
        bucket (an empty write to ``/api/v2/write``: checked, nothing written), or when ``telemetry.url``
        cannot be right (a query or an API endpoint in it, http/https mixed up, an address whose
        ``/health`` does not answer); :class:`StoreUnavailable` when it cannot be reached."""
        check_store_access(self.url, self._check_write_access, self.ping)

    def _check_write_access(self) -> None:
        try:
            resp = httpx.post(
                f"{self.url}/api/v2/write",
                params={"org": self.org, "bucket": self.bucket, "precision": "ms"},
                headers={"Authorization": f"Token {self._token}"},
                content=b"",
                timeout=min(self.timeout_s, 5.0),
            )
        except httpx.HTTPError as exc:
            raise unavailable(exc, self.url, "influx2 write", self.timeout_s) from exc
        if resp.status_code < 300:
            return
        version = resp.headers.get("X-Influxdb-Version", "")
        if resp.status_code == 404 and version.startswith("1."):  # the URL is right, the backend is not
            text = " ".join(resp.text.split())[:200]
            raise StoreAccessDenied(f"influx2 write: HTTP 404: {text}: the server is InfluxDB {version}, which has no "
                                    "v2 API: set telemetry.backend = \"influx1\" (with telemetry.database, "
                                    "telemetry.username and telemetry.password)")
        err = error_for_status(resp.status_code, resp.text, "influx2 write", not_found_is_access=True)
        if isinstance(err, StoreUnavailable):
            raise err
        # any other 4xx is about the (empty) body: the token, organisation and bucket were accepted

    def close(self) -> None:
        self._client.close()


def _convert(exc: ApiException, what: str, *, not_found_is_access: bool = False) -> StoreError:
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or exc.reason)
    status = exc.status or 0
    if status == 0:  # no HTTP answer: influxdb-client wraps urllib3's error (e.g. an SSLError) in the reason
        text = " ".join(body.split())
        problem = tls_problem(text)
        return StoreAccessDenied(f"{what}: {text}: {problem}") if problem else StoreUnavailable(f"{what}: {text}")
    return error_for_status(status, body, what, not_found_is_access=not_found_is_access)
