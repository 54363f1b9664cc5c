"""API answers are never kept by the browser: Chromium wrote the JSON the dashboard fetched (a customer's
e-mail address, complaint text) to its disk cache, where it stayed after *Log out* and the closed tab.
The dashboard's own static files may still be cached."""

from __future__ import annotations

import base64
import time

import pytest

from tests.api.conftest import auth, client, ctx, tokens  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_every_kind_of_api_answer_says_no_store(client, tokens):  # noqa: F811
    admin, viewer, svc = auth(tokens["admin"]), auth(tokens["viewer"]), auth(tokens["service"])
    assert client.post("/api/v1/models", headers=admin, json={
        "name": "P-200", "rated_rpm": 1780, "bearing": {"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04}}).status_code == 201
    assert client.post("/api/v1/units", headers=admin, json={"device_id": "P-0001", "model": "P-200",
                                                             "customer": "ACME"}).status_code == 201
    c = client.post("/api/v1/complaints", headers=svc, json={
        "device_id": "P-0001", "contact": {"name": "Ann", "email": "ann@acme.example"}, "request": "repair",
        "description": "the pump rattles", "occurred_at": time.time() - 3600,
        "attachments": [{"name": "log.txt", "content_type": "text/plain", "data_b64": base64.b64encode(b"x").decode()}]})
    assert c.status_code == 201, c.text
    answers = {
        "list": client.get("/api/v1/complaints", headers=viewer),
        "detail": client.get(f"/api/v1/complaints/{c.json()['id']}", headers=viewer),
        "attachment": client.get(c.json()["attachments"][0]["download"], headers=viewer),
        "csv": client.get("/api/v1/units/export.csv", headers=viewer),
        "new token": client.post("/api/v1/tokens", headers=admin, json={"name": "maria", "role": "service"}),
        "unit password": client.post("/api/v1/units/P-0001/credentials", headers=admin),
        "event stream": client.get("/api/v1/events?timeout_s=0.1", headers=viewer),
        "401": client.get("/api/v1/units"),
        "404": client.get("/api/v1/units/NOPE", headers=viewer),
        "schema": client.get("/api/v1/openapi.json"),
    }
    for what, r in answers.items():
        assert r.status_code < 300 or what in ("401", "404"), (what, r.status_code, r.text[:200])
        assert r.headers.get("cache-control") == "no-store", (what, r.headers.get("cache-control"))


def test_static_files_may_be_cached(client):  # noqa: F811
    r = client.get("/static/js/common.js")
    assert r.status_code == 200 and "cache-control" not in r.headers and r.headers.get("etag")
