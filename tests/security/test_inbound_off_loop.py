"""Inbound complaints are parsed off the event loop: a raw email near the body limit (34 MiB) took 2 s to
parse on it, and for those 2 s the server answered nothing else (every dashboard, the live streams,
/healthz, measured at 1.85 s). The webhook's hashing, JSON and base64 go the same way."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

import alerts.inbound
import api.routes.complaints
from alerts.config import AlertConfig
from alerts.notify import sign
from tests.api.conftest import auth, client, ctx, tokens  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

MAIL = (b"From: Bo Chen <bo@globex.example>\r\nSubject: Fan shakes\r\nMessage-ID: <m1@globex.example>\r\n\r\n"
        b"Serial: P-0001\r\nRequest: advice\r\nOccurred: 2026-11-21T08:00:00Z\r\nIt shakes.\r\n")


def _where() -> str:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return "worker thread"
    return "event loop"


def _spy(monkeypatch, module, name: str) -> list[str]:
    seen: list[str] = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        seen.append(_where())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


@pytest.fixture
def unit(client, tokens):  # noqa: F811
    admin = auth(tokens["admin"])
    assert client.post("/api/v1/models", headers=admin, json={
        "name": "P-200", "rated_rpm": 1780, "bearing": {"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04}}).status_code == 201
    assert client.post("/api/v1/units", headers=admin, json={"device_id": "P-0001", "model": "P-200",
                                                             "customer": "Globex"}).status_code == 201


def test_a_raw_email_is_parsed_in_a_worker_thread(client, tokens, unit, monkeypatch):  # noqa: F811
    seen = _spy(monkeypatch, alerts.inbound, "check_email")
    r = client.post("/api/v1/complaints/email", content=MAIL,
                    headers={**auth(tokens["service"]), "Content-Type": "message/rfc822"})
    assert r.status_code == 201, r.text
    assert seen == ["worker thread"]


def test_a_webhook_body_is_checked_and_parsed_in_a_worker_thread(client, ctx, tokens, unit, monkeypatch):  # noqa: F811
    ctx.alerts.config = AlertConfig(complaint_webhook_secret="crm-secret")
    verified = _spy(monkeypatch, alerts.inbound, "verify_webhook")
    parsed = _spy(monkeypatch, api.routes.complaints, "check_complaint")
    body = json.dumps({"device_id": "P-0001", "contact": {"email": "bo@globex.example"}, "request": "advice",
                       "description": "It shakes.", "occurred_at": time.time() - 60}).encode()
    ts = str(int(time.time()))
    r = client.post("/api/v1/complaints/webhook", content=body, headers={
        **auth(tokens["service"]), "Content-Type": "application/json", "X-Foreshock-Timestamp": ts,
        "X-Foreshock-Signature": sign("crm-secret", ts, body)})
    assert r.status_code == 201, r.text
    assert r.json()["channel"] == "webhook"
    assert (verified, parsed) == (["worker thread"], ["worker thread"])
