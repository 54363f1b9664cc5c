"""InfluxDB v1 API backend: line protocol on ``/write``, InfluxQL on ``/query``, over httpx.

Works with InfluxDB 1.x natively and with the v1-compatibility endpoints of InfluxDB 2.x/3.x.
Authentication: ``u``/``p`` query parameters (1.x users) or ``Authorization: Token <token>`` (2.x/3.x).
The database is created on the first write that finds it missing (needs admin rights on 1.x).
One keep-alive connection pool serves all requests; failed requests are retried per :class:`Retry`.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from foreshock.tsdb.base import Point, Row, StoreAccessDenied, StoreError, StoreUnavailable, check_query_args
from foreshock.tsdb.httperrors import (
    check_store_access,
    error_for_status,
    ping_refused,
    unavailable,
)
from foreshock.tsdb.lineprotocol import encode_points
from foreshock.tsdb.retry import Retry

__all__ = ["Influx1Store", "quote_ident", "quote_string"]

log = logging.getLogger(__name__)


def quote_ident(name: str) -> str:
    """An InfluxQL identifier.

    >>> quote_ident('rms "g"')
    '"rms \\\\"g\\\\""'
    """
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """An InfluxQL string literal.

    >>> quote_string("P'1")
    "'P\\\\'1'"
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Influx1Store:
    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        retention_policy: str | None = None,
        timeout_s: float = 10.0,
        retry: Retry | None = None,
        create_database: bool = True,
    ) -> None:
        if not database:
            raise ValueError("telemetry.database must not be empty for the influx1 backend")
        self.url = url.rstrip("/")
        self.database = database
        self.username = None if token else username  # for the start-up check's message
        self.retention_policy = retention_policy
        self.retry = retry or Retry()
        self._create_database = create_database
        headers = {}
        auth = None
        if token:
            headers["Authorization"] = f"Token {token}"
        elif username:  # Basic auth, not u=/p= in the URL, which HTTP client logs and proxies record
            auth = httpx.BasicAuth(username, password or "")
        self._client = httpx.Client(
            base_url=self.url, headers=headers, auth=auth, timeout=timeout_s,
            limits=httpx.Limits(max_keepalive_connections=4),
        )

    @classmethod
    def from_settings(cls, telemetry: Any) -> Influx1Store:
        return cls(
            telemetry.url,
            telemetry.database,
            username=telemetry.username,
            password=telemetry.password.get_secret_value() if telemetry.password else None,
            token=telemetry.token.get_secret_value() if telemetry.token else None,
            retention_policy=telemetry.retention_policy,
            timeout_s=telemetry.timeout_s,
            retry=Retry(max_retries=telemetry.max_retries, max_retry_time_s=telemetry.max_retry_time_s),
        )

    # -- writing -------------------------------------------------------------------------------

    def write(self, points: list[Point]) -> None:
        body = encode_points(points)
        if body:
            self.write_lines(body)

    def write_lines(self, body: bytes) -> None:
        """Write an already encoded line-protocol body (millisecond timestamps)."""
        self.retry.call(lambda: self._write_once(body), "influx1 write")

    def _write_once(self, body: bytes) -> None:
        params = {"db": self.database, "precision": "ms"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        try:
            resp = self._client.post("/write", params=params, content=body)
        except httpx.HTTPError as exc:
            raise unavailable(exc, self.url, "influx1 write", self._client.timeout.read) from exc
        if resp.status_code == 204:
            return
        if resp.status_code == 404 and "database not found" in resp.text and self._create_database:
            self.create_database()
            return self._write_once(body)
        raise self._write_error(resp)

    def _write_error(self, resp: httpx.Response) -> StoreError:
        if "retention policy not found" in resp.text:  # HTTP 500, yet a setting: retrying cannot help
            text = " ".join(resp.text.split())[:300]
            return StoreAccessDenied(f"influx1 write: HTTP {resp.status_code}: {text} (setting "
                                     f"telemetry.retention_policy = {self.retention_policy!r})")
        return error_for_status(resp.status_code, resp.text, "influx1 write", not_found_is_access=True)

    def create_database(self) -> None:
        log.info("creating InfluxDB database %s at %s", self.database, self.url)
        try:
            self._influxql(f"CREATE DATABASE {quote_ident(self.database)}", post=True)
        except StoreAccessDenied as exc:  # a user without admin rights: 403
            raise StoreAccessDenied(f"the database {self.database!r} (setting telemetry.database) does not exist "
                                    f"and cannot be created: {exc}") from exc
        except StoreUnavailable:
            raise
        except StoreError as exc:  # e.g. a user without admin rights: the setting, not the data
            raise StoreAccessDenied(f"cannot create the database {self.database!r}: {exc}") from exc

    def check_access(self) -> None:
        """Raise :class:`StoreAccessDenied` when the store refuses the credentials, the database or the
        retention policy (an empty write: InfluxDB checks all three and writes nothing), or when
        ``telemetry.url`` cannot be right (a query or an API endpoint in it, http/https mixed up, an
        address whose ``/ping`` is not InfluxDB's: the spool would only be replayed once it answers);
        a missing database is created as the first write would. :class:`StoreUnavailable` when it
        cannot be reached."""
        check_store_access(self.url, self._check_write_access, self.ping)
        self._check_read_access()

    def _check_read_access(self) -> None:
        """Raise :class:`StoreAccessDenied` when the user may write the database but not read it: everything
        was stored, then the API's series, the dashboard's charts and a complaint's evidence failed. Only a
        refusal counts; anything else (a server that answers no InfluxQL) is left to the reads themselves."""
        q = f"SHOW MEASUREMENTS ON {quote_ident(self.database)} LIMIT 1"
        try:
            resp = self._client.get("/query", params={"db": self.database, "q": q})
        except httpx.HTTPError:
            return  # the write check reached it: an outage now is met by ingest as any other
        if resp.status_code not in (401, 403):
            return
        who = f"the user {self.username!r} (setting telemetry.username)" if self.username else \
            "the token (setting telemetry.token)"
        text = " ".join(resp.text.split())[:300]
        raise StoreAccessDenied(
            f"influx1 query: HTTP {resp.status_code}: {text}: {who} may write the database {self.database!r} but not "
            f"read it; the API's series, the dashboard's charts and complaints' telemetry evidence read it: grant "
            f"both (GRANT ALL ON {quote_ident(self.database)} TO {quote_ident(self.username or 'USER')})")

    def _check_write_access(self) -> None:
        params = {"db": self.database, "precision": "ms"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        try:
            resp = self._client.post("/write", params=params, content=b"")
        except httpx.HTTPError as exc:
            raise unavailable(exc, self.url, "influx1 write", self._client.timeout.read) from exc
        if resp.status_code in (200, 204):
            return
        if resp.status_code == 404 and "database not found" in resp.text and self._create_database:
            self.create_database()
            return self._check_write_access()
        err = self._write_error(resp)
        if isinstance(err, StoreUnavailable):
            raise err
        # any other 4xx is about the (empty) body: the credentials and the target were accepted

    # -- reading -------------------------------------------------------------------------------

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
        # ``::tag``: a field of the same name (written by another tool, or before the protocol
        # reserved the name) must not shadow the tag and make every unit's rows vanish
        where = [f"{quote_ident('device')}::tag = {quote_string(device)}"]
        where += [f"{quote_ident(k)}::tag = {quote_string(v)}" for k, v in (tags or {}).items() if k != "device"]
        where += [f"time >= {int(start_ms)}ms", f"time < {int(end_ms)}ms"]
        source = quote_ident(measurement)
        if self.retention_policy:
            source = f"{quote_ident(self.database)}.{quote_ident(self.retention_policy)}.{source}"
        if every_ms is None:
            select = ", ".join(quote_ident(f) for f in fields) if fields else "*"
        elif fields:
            select = ", ".join(f"mean({quote_ident(f)}) AS {quote_ident(f)}" for f in fields)
        else:
            select = "mean(*)"
        q = f"SELECT {select} FROM {source} WHERE {' AND '.join(where)}"
        if every_ms is not None:
            q += f" GROUP BY time({int(every_ms)}ms) fill(none)"
        q += f" ORDER BY time ASC LIMIT {int(limit)}"
        result = self._influxql(q)
        return _rows(result, tag_columns=set(tags or {}) | {"device", "axis"}, strip_mean=every_ms is not None)

    def _influxql(self, q: str, *, post: bool = False) -> dict:
        params = {"db": self.database, "epoch": "ms", "q": q}

        def once() -> dict:
            try:
                if post:
                    resp = self._client.post("/query", params=params)
                else:
                    resp = self._client.get("/query", params=params)
            except httpx.HTTPError as exc:
                raise unavailable(exc, self.url, "influx1 query", self._client.timeout.read) from exc
            if resp.status_code != 200:
                raise error_for_status(resp.status_code, resp.text, "influx1 query")
            doc = resp.json()
            for res in doc.get("results", []):
                if "error" in res and "database not found" not in res["error"]:
                    raise StoreError(f"influx1 query: {res['error']}")
            return doc

        return self.retry.call(once, "influx1 query")

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless ``/ping`` answers; :class:`StoreAccessDenied` when what
        answers there is not InfluxDB's ping (ingest replays the spool only once the ping passes)."""
        try:
            resp = self._client.get("/ping", timeout=min(self._client.timeout.read or 5.0, 5.0))
        except httpx.HTTPError as exc:
            raise unavailable(exc, self.url, "influx1 ping") from exc
        if resp.status_code in (200, 204):
            return
        raise ping_refused(resp.status_code, resp.text, self.url, "influx1 ping")

    def close(self) -> None:
        self._client.close()


def _rows(doc: dict, *, tag_columns: set[str], strip_mean: bool) -> list[Row]:
    rows: list[Row] = []
    for res in doc.get("results", []):
        for series in res.get("series", []) or []:
            columns = series["columns"]
            names = [c[5:] if strip_mean and c.startswith("mean_") else c for c in columns]
            # where a field shares a tag's key, InfluxDB answers the tag as "<key>_1": not a field either
            hidden = tag_columns | {f"{t}_1" for t in tag_columns if t in names and f"{t}_1" in names}
            for values in series.get("values", []):
                fields = {
                    n: v for n, v in zip(names[1:], values[1:]) if v is not None and n not in hidden
                }
                if fields:
                    rows.append(Row(int(values[0]), fields))
    rows.sort(key=lambda r: r.ts_ms)
    return rows
