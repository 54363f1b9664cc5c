"""Request bodies are capped before they are read: the API parsed a body in full before it checked the
token, so anyone who could reach the port made the server hold gigabytes (a 200 MB body without a token
took 800 MB and came back 401)."""

from __future__ import annotations

import base64
import json
import socket

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.testing import memory_context
from foreshock.settings import ApiSettings
from tests.api.conftest import auth, client, ctx, tokens, world  # noqa: F401 - fixtures
from tests.browser.conftest import served  # noqa: F401 - fixture

pytestmark = pytest.mark.integration  # PostgreSQL and a uvicorn server
MAX_BODY_BYTES = ApiSettings().max_body_bytes  # the defaults (1 MiB, 10 MB); tests/security/test_body_limit_settings.py
CSV_BODY_BYTES = ApiSettings().max_import_body_bytes  # checks other values


@pytest.fixture
def bare():
    with TestClient(create_app(memory_context())) as c:
        yield c


def test_a_body_over_the_limit_is_refused_before_the_token_is_checked(bare):
    r = bare.post("/api/v1/tokens", content=b'{"name": "' + b"a" * MAX_BODY_BYTES + b'"}',
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:200]
    assert r.json()["detail"] == (f"request body of {MAX_BODY_BYTES + 12} bytes is over the limit of "
                                  f"{MAX_BODY_BYTES} bytes for POST /api/v1/tokens")
    assert r.headers["x-content-type-options"] == "nosniff"  # still gets the security headers


def test_a_chunked_body_is_cut_off_at_the_limit(bare):
    sent = []

    def chunks():
        for _ in range(4 * MAX_BODY_BYTES // 65536):
            sent.append(1)
            yield b"a" * 65536

    r = bare.post("/api/v1/units", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:200]
    assert r.json()["detail"] == f"request body is over the limit of {MAX_BODY_BYTES} bytes for POST /api/v1/units"


def test_routes_that_carry_files_may_take_more(client, tokens, world):  # noqa: F811
    """A complaint with a 2 MB photo and a CSV import of 2 MB are over the default, under their own limits."""
    from tests.complaints.test_api import body

    photo = base64.b64encode(b"\xff" * 2_000_000).decode()
    complaint = body(attachments=[{"name": "p.jpg", "content_type": "image/jpeg", "data_b64": photo}])
    r = client.post("/api/v1/complaints", content=json.dumps(complaint), headers={
        **auth(tokens["service"]), "Content-Type": "application/json"})
    assert r.status_code == 201, r.text[:300]
    assert r.json()["attachments"][0]["size"] == 2_000_000
    csv = "device_id,model\n" + "".join(f"P-{i:07d},NOPE\n" for i in range(2_000_000 // 18))
    r = client.post("/api/v1/units/import", content=csv, headers={**auth(tokens["admin"]), "Content-Type": "text/csv"})
    assert r.status_code == 400 and "NOPE" in r.json()["detail"], r.text[:300]  # read and checked, not cut off
    r = client.post("/api/v1/units/import", content=b"x" * (CSV_BODY_BYTES + 1),
                    headers={**auth(tokens["admin"]), "Content-Type": "text/csv"})
    assert r.status_code == 413 and f"limit of {CSV_BODY_BYTES} bytes" in r.json()["detail"]


def _ask(base: str, head: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(head)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
            if b"\r\n\r\n" in out and b"}" in out:
                break
        return out


def test_a_declared_huge_body_is_answered_without_waiting_for_it(served):  # noqa: F811
    """uvicorn: 'Content-Length: 10 GB' and not a byte of it sent; the answer comes at once (it waited)."""
    base = served[0]
    reply = _ask(base, b"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 10000000000\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"over the limit of 1048576 bytes" in reply
    reply = _ask(base, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # and the server serves on
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]


@pytest.mark.parametrize("body, message", [
    (b"[" * 5000 + b"]" * 5000, "invalid request: body: JSON nested too deeply"),
    (b'{"a":' * 2000 + b"1" + b"}" * 2000, "invalid request: body: JSON nested too deeply"),
    (b'{"device_id": "P-\xff"}', "invalid request: body cannot be read: UnicodeDecodeError: 'utf-8' codec can't decode "
                               "byte 0xff in position 17"),
])
def test_a_body_the_json_parser_gives_up_on_is_named(bare, body, message):
    """Both were a 400 "There was an error parsing the body" that did not say what was wrong."""
    from api.tokens import create_token

    with bare.app.state.context.session_factory() as s:
        _, secret = create_token(session=s, name="admin", role="admin")
        s.commit()
    r = bare.post("/api/v1/units", content=body, headers={**auth(secret), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"].startswith(message), r.text[:300]
