"""Health, readiness, metrics, security headers and JSON errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import auth


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["database"] == "ok"


def test_readyz_names_the_failing_probe(sqlite_ctx):
    def broker() -> None:
        raise ConnectionRefusedError("connection refused by 127.0.0.1:1")

    sqlite_ctx.probes["broker"] = broker
    client = TestClient(create_app(sqlite_ctx))
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
    assert "connection refused" in body["checks"]["broker"]


def test_metrics_prometheus_text(client, tokens):
    client.get("/api/v1/tickets", headers=auth(tokens["viewer"]))
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "# TYPE foreshock_api_requests_total counter" in r.text
    assert 'status="2xx"' in r.text


def test_metrics_include_ingest_text(sqlite_ctx):
    class IngestMetrics:
        def render(self) -> str:
            return "# TYPE foreshock_messages_received_total counter\nforeshock_messages_received_total 7\n"

    sqlite_ctx.metrics = IngestMetrics()
    r = TestClient(create_app(sqlite_ctx)).get("/metrics")
    assert "foreshock_messages_received_total 7" in r.text


def test_security_headers_and_json_errors(client, tokens):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and "no such resource" in r.json()["detail"]
    for name in ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"):
        assert name in r.headers
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    r = client.get("/api/v1/tickets?limit=100000", headers=auth(tokens["viewer"]))
    assert r.status_code == 422 and "limit" in r.json()["detail"]


def test_lists_are_paginated_envelopes(client, tokens):
    for path in ("/api/v1/tickets", "/api/v1/alerts", "/api/v1/devices", "/api/v1/units"):
        r = client.get(path, headers=auth(tokens["viewer"]))
        assert r.status_code in (200, 503), (path, r.text)
        if r.status_code == 200:
            assert set(r.json()) == {"data", "count"}
        else:
            assert "not available" in r.json()["detail"]
