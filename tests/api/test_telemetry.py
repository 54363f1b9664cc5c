"""Series from the telemetry store and the latest spectra with their markers."""

from __future__ import annotations

import time

from tests.api.conftest import auth


def test_series_downsampled(client, tokens, world):
    v = auth(tokens["viewer"])
    now = int(time.time() * 1000)
    r = client.get("/api/v1/units/P-0001/series", headers=v,
                   params={"fields": ["velocity_rms_mm_s", "kurtosis"], "start_ms": now - 7 * 86400_000,
                           "end_ms": now, "points": 50})
    assert r.status_code == 200, r.text
    body = r.json()
    assert 40 <= len(body["ts_ms"]) <= 60 and body["every_ms"] >= 3600_000
    v_rms = body["fields"]["velocity_rms_mm_s"]
    assert max(v_rms[-5:]) > 3 * min(v_rms[:5])  # P-0001 degrades
    full = client.get("/api/v1/units/P-0001/series", headers=v, params={"points": 5000}).json()
    assert len(full["ts_ms"]) in (7 * 24 - 1, 7 * 24) and {"rms_g", "kurtosis", "bpfo_db"} <= set(full["fields"])


def test_series_bad_input(client, tokens, world):
    v = auth(tokens["viewer"])
    r = client.get("/api/v1/units/P-0001/series", headers=v, params={"start_ms": 10, "end_ms": 5})
    assert r.status_code == 400 and "start_ms" in r.json()["detail"]
    r = client.get("/api/v1/units/P-0001/series", headers=v, params={"fields": "DROP TABLE"})
    assert r.status_code == 400 and "bad field name" in r.json()["detail"]
    r = client.get("/api/v1/units/P-0001/series", headers=v, params={"start_ms": 0, "end_ms": 10**13})
    assert r.status_code == 400 and "at most" in r.json()["detail"]
    assert client.get("/api/v1/units/GHOST/series", headers=v).status_code == 404
    r = client.get("/api/v1/units/P-0001/series", headers=v, params={"fields": ["kurtosis", "kurtosiss"]})
    assert r.status_code == 200 and r.json()["absent"] == ["kurtosiss"]  # named, not a silent empty column
    assert "kurtosis" in r.json()["available"] and "kurtosiss" not in r.json()["available"]
    assert any(x is not None for x in r.json()["fields"]["kurtosis"])
    ok = client.get("/api/v1/units/P-0001/series", headers=v, params={"fields": ["kurtosis"]}).json()
    assert ok["absent"] == [] and ok["available"] is None


def test_spectrum_shows_bpfo(client, tokens, world):
    v = auth(tokens["viewer"])
    r = client.get("/api/v1/units/P-0001/spectrum", headers=v)
    assert r.status_code == 200, r.text
    body = r.json()
    marks = {m["label"]: m["freq_hz"] for m in body["markers"]}
    assert {"1×", "2×", "BPFO", "BPFI", "BSF", "FTF"} <= set(marks)
    assert abs(marks["1×"] - 1480 / 60) < 1e-9
    env = body["envelope"]
    # the strongest envelope line below 200 Hz is BPFO
    peak = max((a, f) for f, a in zip(env["freqs"], env["amp"]) if 10 < f < 200)[1]
    assert abs(peak - marks["BPFO"]) < 2.0
    assert body["zone_limits_mm_s"] == [1.4, 2.8, 4.5]
    r = client.get("/api/v1/units/P-0002/spectrum", headers=v)
    assert r.status_code == 404 and "no vibration snapshot" in r.json()["detail"]


def test_a_snapshot_too_short_for_a_spectrum_says_so_in_words(client, ctx, tokens, world):
    """It said "the latest snapshot cannot be analysed: 3 samples, finite=True"."""
    import numpy as np

    from detectors.types import Snapshot

    ctx.latest_snapshots.put("P-0002", Snapshot(ts=1.7e9, fs=25600.0, samples=np.array([0.0, 0.1, 0.2]), axis="x"))
    r = client.get("/api/v1/units/P-0002/spectrum", headers=auth(tokens["viewer"]))
    assert r.status_code == 400
    assert r.json()["detail"] == ("the latest vibration snapshot has 3 samples, too few for a spectrum (at least 64; "
                                  "2,560 or more recommended, see docs/device-protocol.md)")


def test_a_telemetry_store_that_fails_is_a_named_503_or_502_not_a_500(client, ctx, tokens, world, monkeypatch):
    """With influxd stopped, a unit's series answered a bare 500 Internal Server Error (and a traceback
    in the log); the readiness probe already named the store."""
    from foreshock.tsdb import StoreError, StoreUnavailable

    v = auth(tokens["viewer"])

    def down(*a, **k):
        raise StoreUnavailable("cannot reach http://writer:s3cr3t@influx.example:8086/query?u=writer&p=s3cr3t: "
                               "Connection refused")

    monkeypatch.setattr(ctx.store, "query", down)
    r = client.get("/api/v1/units/P-0001/series", headers=v)
    assert r.status_code == 503 and r.headers["retry-after"] == "30", r.text
    assert r.json()["detail"].startswith("the telemetry store is unavailable: cannot reach http://writer:***@influx")
    assert "s3cr3t" not in r.text

    def refuses(*a, **k):
        raise StoreError("HTTP 400: unsupported path")

    monkeypatch.setattr(ctx.store, "query", refuses)
    r = client.get("/api/v1/units/P-0001/series", headers=v)
    assert r.status_code == 502 and r.json()["detail"] == "the telemetry store refused the query: HTTP 400: unsupported path"
    assert client.get("/api/v1/units/P-0001", headers=v).status_code == 200  # the rest still answers


def test_a_telemetry_store_that_refuses_the_credentials_says_so_not_unavailable(client, ctx, tokens, world, monkeypatch):
    """With the store's user refused (a changed password, a user without the read grant: HTTP 401/403), the
    API said "the telemetry store is unavailable", which reads as a server down and retried in 30 s."""
    from foreshock.tsdb.base import StoreAccessDenied

    def denied(*a, **k):
        raise StoreAccessDenied("HTTP 403: not authorized to execute statement 'SELECT ...' (user writer)")

    monkeypatch.setattr(ctx.store, "query", denied)
    r = client.get("/api/v1/units/P-0001/series", headers=auth(tokens["viewer"]))
    assert r.status_code == 503 and "retry-after" not in r.headers, r.text
    assert r.json()["detail"] == ("the telemetry store refused this server's access: HTTP 403: not authorized to execute "
                                  "statement 'SELECT ...' (user writer); check the telemetry settings' user and password "
                                  "or token, and that the user may read")
