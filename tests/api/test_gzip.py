"""Responses are gzip-compressed for a client that accepts it (a plant's slow link: the unit page's chart
library is 145 kB, 42 kB compressed), except the live-update stream, whose small events a compressor would
hold back."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from api.app import STATIC, create_app
from api.testing import memory_context
from tests.api.test_event_stream_limits import server  # noqa: F401 - the fixture: a real uvicorn server
from tests.api.test_event_stream_limits import stream

UPLOT = "/static/vendor/uplot/uPlot.esm.js"


def test_a_static_asset_is_compressed_for_a_client_that_accepts_it_and_plain_for_one_that_does_not():
    client = TestClient(create_app(memory_context()))
    raw = (STATIC / "vendor/uplot/uPlot.esm.js").read_bytes()
    zipped = client.get(UPLOT, headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.headers["content-encoding"] == "gzip"
    assert zipped.num_bytes_downloaded < len(raw) // 2  # the bytes on the wire
    assert zipped.content == raw  # httpx undoes the gzip
    assert "content-security-policy" in zipped.headers  # the security headers are still there
    plain = client.get(UPLOT, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == raw


def test_the_live_update_stream_is_not_compressed(server):  # noqa: F811
    base, tokens, _ = server
    with stream(base, tokens["viewer"]) as r:  # httpx asks for gzip; the first line arrives at once
        assert r.status_code == 200
        assert "content-encoding" not in r.headers


def test_a_json_answer_is_compressed_when_it_is_large(server):  # noqa: F811
    base, tokens, _ = server
    # the server builds its schema on this first call: seconds on a busy 2-core machine, past httpx's 5 s default
    with httpx.Client(base_url=base, timeout=60) as client:
        r = client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.json()["info"]["title"] == "Foreshock API"
