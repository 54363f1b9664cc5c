"""influx2 backend: writes against a real victoria-metrics (it accepts /api/v2/write), Flux reads
against recorded InfluxDB 2 responses (annotated CSV) served by a tiny local HTTP server, and the
mapping of HTTP failures to StoreUnavailable / StoreError. No InfluxDB 2 server can be installed here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from foreshock.settings import load_settings
from foreshock.tsdb import open_store
from foreshock.tsdb.base import Point, StoreAccessDenied, StoreError, StoreUnavailable
from foreshock.tsdb.influx2 import Influx2Store
from foreshock.tsdb.retry import Retry

RECORDED = Path(__file__).parent / "recorded"
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def _store(url: str, **kw) -> Influx2Store:
    return Influx2Store(url, "secret-token", "acme", "plant", retry=Retry(max_retries=0), **kw)


def test_flux_read_of_recorded_pivot_response(recorded):
    server = recorded(200, (RECORDED / "flux_telemetry_pivot.csv").read_bytes())
    store = _store(server.url)
    rows = store.query("telemetry", "P-1", T0, T0 + 60_000)
    assert [(r.ts_ms, r.fields) for r in rows] == [
        (T0, {"humidity": 50.0, "temperature_c": 40.5}),
        (T0 + 1500, {"temperature_c": 41.0}),
        (T0 + 2000, {"humidity": 52.0, "temperature_c": 42.0}),
    ]
    req = server.requests[0]
    assert req["path"] == "/api/v2/query" and req["query"]["org"] == ["acme"]
    assert req["auth"] == "Token secret-token"
    flux = json.loads(req["body"])["query"]
    assert 'from(bucket: "plant")' in flux and 'r.device == "P-1"' in flux
    assert "range(start: 2023-11-14T22:13:20.000Z, stop: 2023-11-14T22:14:20.000Z)" in flux
    store.close()


def test_flux_downsampled_read_with_tag_filter(recorded):
    server = recorded(200, (RECORDED / "flux_vibration_window.csv").read_bytes())
    store = _store(server.url)
    rows = store.query("vibration", "P-1", T0, T0 + 600_000, ["rms_g", "kurtosis"], every_ms=300_000, tags={"axis": "x"})
    assert [(r.ts_ms, r.fields) for r in rows] == [
        (T0, {"kurtosis": 3.1, "rms_g": 0.52}),
        (T0 + 300_000, {"kurtosis": 3.4, "rms_g": 0.61}),
    ]
    flux = json.loads(server.requests[0]["body"])["query"]
    assert "aggregateWindow(every: 300000ms, fn: mean" in flux and 'r["axis"] == "x"' in flux
    assert 'r._field == "rms_g" or r._field == "kurtosis"' in flux
    store.close()


@pytest.mark.parametrize(
    "status, error",
    [(500, StoreUnavailable), (503, StoreUnavailable), (429, StoreUnavailable), (400, StoreError),
     (401, StoreAccessDenied)],
)
def test_http_failures_map_to_store_errors(recorded, status, error):
    # 401 was a StoreError (bad data): ingest dead-lettered every message of a wrong token; now it is
    # unavailable (spooled until the token is put right), though not retried
    server = recorded(status, b'{"code":"x","message":"refused for the test"}', content_type="application/json")
    store = _store(server.url)
    with pytest.raises(error, match=f"HTTP {status}") as info:
        store.write([Point("telemetry", {"device": "P-1"}, {"t": 1.0}, T0)])
    assert isinstance(info.value, StoreUnavailable) == (error is not StoreError)
    store.close()


def test_only_retryable_failures_are_retried(recorded):
    unavailable = recorded(503, b"busy", content_type="text/plain")
    store = Influx2Store(unavailable.url, "t", "o", "b", retry=Retry(max_retries=2, base_s=0.001))
    with pytest.raises(StoreUnavailable):
        store.write([Point("telemetry", {"device": "P-1"}, {"t": 1.0}, T0)])
    assert len(unavailable.requests) == 3
    bad = recorded(400, b'{"message":"bad line"}', content_type="application/json")
    store = Influx2Store(bad.url, "t", "o", "b", retry=Retry(max_retries=2, base_s=0.001))
    with pytest.raises(StoreError):
        store.write([Point("telemetry", {"device": "P-1"}, {"t": 1.0}, T0)])
    assert len(bad.requests) == 1


def test_unreachable_server_is_unavailable():
    store = Influx2Store("http://127.0.0.1:9", "t", "o", "b", retry=Retry(max_retries=0), timeout_s=2)
    with pytest.raises(StoreUnavailable, match="cannot reach"):
        store.write([Point("telemetry", {"device": "P-1"}, {"t": 1.0}, T0)])
    with pytest.raises(StoreUnavailable):
        store.ping()
    store.close()


def test_token_is_required():
    with pytest.raises(ValueError, match="token"):
        Influx2Store("http://127.0.0.1:9", "", "o", "b")


def _export(vm_url: str, device: str) -> dict[str, list]:
    r = httpx.get(f"{vm_url}/api/v1/export", params={"match[]": f'{{device="{device}"}}'})
    r.raise_for_status()
    out = {}
    for line in r.text.splitlines():
        doc = json.loads(line)
        out[doc["metric"]["__name__"]] = list(zip(doc["timestamps"], doc["values"]))
    return out


@pytest.mark.integration
def test_writes_reach_victoria_metrics(victoria_metrics, tmp_path):
    settings = load_settings(
        data_dir=tmp_path,
        telemetry={"backend": "influx2", "url": victoria_metrics.url, "token": "unused-by-vm", "bucket": "plant"},
    )
    store = open_store(settings)
    assert isinstance(store, Influx2Store)
    store.ping()
    store.write([Point("telemetry", {"device": "V-1"}, {"temperature_c": 40.0 + i, "load": i}, T0 + 1000 * i)
                 for i in range(5)])
    store.write([Point("vibration", {"device": "V-1", "axis": "x"}, {"rms_g": 0.5, "n": 4096}, T0)])
    store.write([Point("telemetry", {"device": "V-1"}, {"temperature_c": 40.0}, T0)])  # redelivery
    deadline = time.monotonic() + 60  # generous: a loaded CI machine
    while True:
        httpx.get(f"{victoria_metrics.url}/internal/force_flush")
        series = _export(victoria_metrics.url, "V-1")
        if len(series) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # VM keeps a re-sent sample unless deduplication merges it; InfluxDB overwrites it. Compare as sets.
    assert sorted(set(series["telemetry_temperature_c"])) == [(T0 + 1000 * i, 40.0 + i) for i in range(5)]
    assert series["telemetry_load"] == [(T0 + 1000 * i, float(i)) for i in range(5)]
    assert series["vibration_rms_g"] == [(T0, 0.5)]
    store.close()


@pytest.mark.parametrize("status, body", [
    (401, b'{"code":"unauthorized","message":"unauthorized access"}'),
    (404, b'{"code":"not found","message":"bucket \\"nope\\" not found"}'),
])
def test_a_write_refused_for_its_token_or_bucket_is_access_denied_not_bad_data(recorded, status, body):
    """A wrong token or bucket is a setting, not bad data: ingest must spool (StoreAccessDenied is a
    StoreUnavailable), not dead-letter every message as store_rejected; and it is not retried."""
    server = recorded(status, body, content_type="application/json")
    store = Influx2Store(server.url, "secret-token", "acme", "plant", retry=Retry(max_retries=3, base_s=0.001))
    with pytest.raises(StoreAccessDenied, match=f"HTTP {status}"):
        store.write([Point("telemetry", {"device": "P-1"}, {"t": 1.0}, 1_700_000_000_000)])
    assert len(server.requests) == 1
    with pytest.raises(StoreAccessDenied, match=f"HTTP {status}"):
        store.check_access()
    req = server.requests[-1]
    assert req["path"] == "/api/v2/write" and req["body"] == b"" and req["auth"].startswith("Token ")
    store.close()


def test_check_access_passes_when_the_store_takes_an_empty_write(recorded):
    server = recorded(204, b"", content_type="text/plain")
    store = _store(server.url)
    store.check_access()
    assert server.requests[0]["query"]["bucket"] == ["plant"] and server.requests[0]["query"]["org"] == ["acme"]
    store.close()
