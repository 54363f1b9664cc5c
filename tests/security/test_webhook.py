"""The signed complaint webhook refuses any signature it cannot check with a 400 naming the header: one
with a non-ASCII character (headers are read as Latin-1) made hmac.compare_digest raise, a 500."""

from __future__ import annotations

import json
import time

import pytest

from alerts.config import AlertConfig
from alerts.inbound import verify_webhook
from alerts.notify import sign
from tests.api.conftest import auth, client, ctx, tokens  # noqa: F401 - fixtures


def test_a_non_ascii_signature_is_refused_not_an_error():
    ts = str(int(time.time()))
    with pytest.raises(PermissionError, match="bad X-Foreshock-Signature"):
        verify_webhook("s", ts, b"{}", "sha256=\xe9" + sign("s", ts, b"{}")[8:], now=time.time(), tolerance_s=300)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_webhook_answers_400(client, ctx, tokens):  # noqa: F811
    ctx.alerts.config = AlertConfig(complaint_webhook_secret="crm-secret")
    payload = json.dumps({"description": "x"}).encode()
    ts = str(int(time.time()))
    good = sign("crm-secret", ts, payload)
    for signature in (good.encode()[:-1] + b"\xe9", b"sha256=\xff\xfe", "sha256=\u00e4".encode("latin-1")):
        r = client.post("/api/v1/complaints/webhook", content=payload, headers={
            **auth(tokens["service"]), "Content-Type": "application/json", "X-Foreshock-Timestamp": ts,
            "X-Foreshock-Signature": signature})
        assert r.status_code == 400 and "bad X-Foreshock-Signature" in r.json()["detail"], (signature, r.text)
