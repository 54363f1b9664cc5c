"""The request body limits are settings of the API section (``api.max_body_bytes``,
``api.max_import_body_bytes``, ``api.max_complaint_body_bytes``): the BodyLimit middleware enforces the
configured values, and a bad value is refused at start, naming the key. They were constants in
api/security.py."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.testing import memory_context
from foreshock.settings import ApiSettings, SettingsError, load_settings
from tests.api.conftest import auth


def test_the_defaults_are_unchanged():
    s = load_settings().api
    assert (s.max_body_bytes, s.max_import_body_bytes, s.max_complaint_body_bytes) == (
        1024 * 1024, 10_000_000, 10 * 1024 * 1024)


@pytest.fixture
def small():
    """An app whose limits are configured far below the defaults, with an admin token."""
    from api.tokens import create_token
    from devices.registry import Registry

    ctx = memory_context()
    ctx.registry = Registry(ctx.session_factory)
    ctx.settings = load_settings(api={"max_body_bytes": 2000, "max_import_body_bytes": 3000,
                                      "max_complaint_body_bytes": 4000})
    with ctx.session_factory() as s:
        _, secret = create_token(session=s, name="admin", role="admin")
        s.commit()
    with TestClient(create_app(ctx)) as client:
        yield client, auth(secret)


def test_a_configured_smaller_limit_is_enforced(small):
    client, h = small
    json_h = {**h, "Content-Type": "application/json"}
    r = client.post("/api/v1/units", content=b'{"device_id": "' + b"a" * 2000 + b'"}', headers=json_h)
    assert r.status_code == 413, r.text
    assert r.json()["detail"] == "request body of 2017 bytes is over the limit of 2000 bytes for POST /api/v1/units"
    r = client.post("/api/v1/units", content=b'{"device_id": "' + b"a" * 1900 + b'"}', headers=json_h)
    assert r.status_code == 422 and "device_id" in r.json()["detail"], r.text  # under the limit: read and judged

    chunked = client.post("/api/v1/units", content=iter([b"a" * 1500, b"a" * 1500]), headers=json_h)
    assert chunked.status_code == 413, chunked.text
    assert chunked.json()["detail"] == "request body is over the limit of 2000 bytes for POST /api/v1/units"

    csv_h = {**h, "Content-Type": "text/csv"}
    csv = "device_id,model\n" + "P-0001,NOPE\n" * 200  # 2416 bytes: over the default limit, under the import's
    r = client.post("/api/v1/units/import", content=csv, headers=csv_h)
    assert r.status_code == 400 and "NOPE" in r.json()["detail"], r.text
    r = client.post("/api/v1/units/import", content=b"x" * 3001, headers=csv_h)
    assert r.status_code == 413 and "over the limit of 3000 bytes for POST /api/v1/units/import" in r.json()["detail"]


def test_the_complaint_routes_take_the_configured_floor_or_what_the_attachments_need():
    from alerts.config import AlertConfig

    ctx = memory_context()
    ctx.settings = load_settings(api={"max_complaint_body_bytes": 64 << 20})
    with TestClient(create_app(ctx)) as client:
        r = client.post("/api/v1/complaints/email", content=b"x" * ((64 << 20) + 1),
                        headers={"Content-Type": "message/rfc822"})
        assert r.status_code == 413 and "limit of 67108864 bytes" in r.json()["detail"], r.text[:300]
        r = client.post("/api/v1/complaints/email", content=b"x" * (40 << 20),  # over the default 34.3 MiB
                        headers={"Content-Type": "message/rfc822"})
        assert r.status_code == 401, r.text[:300]  # read up to the token check: under its limit
    from api.security import complaint_body_bytes

    assert complaint_body_bytes(AlertConfig(complaint_attachments_max_total_bytes=1 << 20), floor=4000) == (
        (1 << 20) * 4 // 3 + (1 << 20))


@pytest.mark.parametrize("key, value, problem", [
    ("max_body_bytes", 0, "Input should be greater than 0"),
    ("max_body_bytes", -1, "Input should be greater than 0"),
    ("max_import_body_bytes", 1.5, "Input should be a valid integer, got a number with a fractional part"),
    ("max_complaint_body_bytes", "10MB", "Input should be a valid integer, unable to parse string as an integer"),
    ("max_complaint_body_bytes", True, "expected a whole number of bytes, got true"),
])
def test_a_bad_value_is_refused_by_name(key, value, problem):
    with pytest.raises(SettingsError) as err:
        load_settings(api={key: value})
    assert f"setting api.{key} (FORESHOCK_API__{key.upper()}): {problem}" in str(err.value)


def test_a_bad_value_from_the_file_or_environment_is_named(tmp_path, monkeypatch):
    cfg = tmp_path / "f.toml"
    cfg.write_text("[api]\nmax_body_bytes = 0\n")
    with pytest.raises(SettingsError, match=r"\(file .*f\.toml\):\n  setting api\.max_body_bytes "
                                            r"\(FORESHOCK_API__MAX_BODY_BYTES\): Input should be greater than 0"):
        load_settings(cfg)
    monkeypatch.setenv("FORESHOCK_API__MAX_IMPORT_BODY_BYTES", "lots")
    with pytest.raises(SettingsError, match=r"\(environment\):\n  setting api\.max_import_body_bytes "
                                            r"\(FORESHOCK_API__MAX_IMPORT_BODY_BYTES\): Input should be a "
                                            r"valid integer"):
        load_settings()
    monkeypatch.setenv("FORESHOCK_API__MAX_IMPORT_BODY_BYTES", "20000000")
    assert load_settings().api.max_import_body_bytes == 20_000_000 != ApiSettings().max_import_body_bytes
