"""A dead letter's payload through the API: the bytes as received, whatever they are.

A firmware team debugging a unit that sends broken payloads needs its exact bytes. The API showed a payload
that is not UTF-8 as text with U+FFFD for every byte it could not decode (``b"\\xff\\xfe{"`` became
``"\\ufffd\\ufffd{"``): the bytes were lost in the answer. Now ``payload_base64`` carries them exactly, and
``payload_utf8`` says whether the text ``payload`` is them. SQLite and PostgreSQL (``ctx``).
"""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.deadletter import DeadLetterStore
from tests.api.conftest import auth, make_tokens


@pytest.fixture
def engineer(ctx):
    ctx.deadletters = DeadLetterStore(ctx.session_factory, payload_bytes=8)
    with TestClient(create_app(ctx)) as client:
        yield client, auth(make_tokens(ctx)["engineer"]), ctx.deadletters


def test_a_payload_that_is_not_utf8_comes_back_byte_for_byte(engineer):
    client, h, store = engineer
    raw = b"\xff\xfe{\x00\x81}"
    store.add(topic="foreshock/v1/P-0001/telemetry", reason="bad_json", payload=raw, received_at=1.8e9,
              device_id="P-0001", detail="not valid UTF-8 JSON")
    r = client.get("/api/v1/dead-letters", headers=h)
    assert r.status_code == 200, r.text
    (d,) = r.json()["data"]
    assert base64.b64decode(d["payload_base64"]) == raw
    assert d["payload_utf8"] is False
    assert d["payload"] == raw.decode("utf-8", "replace")  # still readable, and marked as not the bytes
    assert d["payload_size"] == len(raw)


def test_a_utf8_payload_is_the_text_and_a_truncated_one_says_so(engineer):
    client, h, store = engineer
    store.add(topic="foreshock/v1/P-0001/telemetry", reason="schema", payload='{"tt":"ä"}'.encode(),
              received_at=1.8e9, device_id="P-0001")
    store.add(topic="foreshock/v1/P-0002/telemetry", reason="schema", payload=b'{"ts": 1}', received_at=1.7e9,
              device_id="P-0002")
    cut, whole = client.get("/api/v1/dead-letters", headers=h).json()["data"]
    # kept to the store's 8 bytes, which cut the 'ä' (2 bytes) in two: the text cannot be the bytes there
    assert base64.b64decode(cut["payload_base64"]) == '{"tt":"ä"}'.encode()[:8]
    assert cut["payload_size"] == 11 and cut["payload_truncated"] is True and cut["payload_utf8"] is False
    assert base64.b64decode(whole["payload_base64"]) == b'{"ts": 1'
    assert whole["payload"] == '{"ts": 1' and whole["payload_utf8"] is True and whole["payload_truncated"] is True
