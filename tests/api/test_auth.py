"""Every route under /api/v1 checks its role: no token -> 401, a lower role -> 403."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import API_PREFIX, create_app
from api.models import ROLES
from api.routes import api_routes
from tests.api.conftest import auth, make_tokens


def _api_routes(app) -> list[tuple[str, str, str | None]]:
    return [(m, API_PREFIX + p, role) for m, p, role in api_routes()]


@pytest.fixture(scope="module")
def app_and_tokens(tmp_path_factory):
    from api.testing import context_for

    ctx = context_for(f"sqlite:///{tmp_path_factory.mktemp('auth') / 'a.db'}")
    return create_app(ctx), make_tokens(ctx)


def test_every_api_route_requires_a_role(app_and_tokens):
    app, _ = app_and_tokens
    routes = _api_routes(app)
    assert len(routes) >= 5
    missing = [(m, p) for m, p, role in routes if role is None]
    assert missing == [], f"routes without a role check: {missing}"


def _fill(path: str) -> str:
    path = re.sub(r"\{discipline\}", "D2", path)
    path = re.sub(r"\{[^}]+\}", "1", path)
    return path + ("?timeout_s=0.2" if path.endswith("/events") else "")


def test_no_token_and_bad_token_get_401(app_and_tokens):
    app, _ = app_and_tokens
    client = TestClient(app)
    for method, path, _ in _api_routes(app):
        r = client.request(method, _fill(path), json={})
        assert r.status_code == 401, (method, path, r.text)
        assert "bearer token" in r.json()["detail"]
        r = client.request(method, _fill(path), json={}, headers=auth("fs_00000000_" + "x" * 43))
        assert r.status_code == 401 and r.json()["detail"] == "invalid or revoked token", (method, path)


def test_too_low_a_role_gets_403(app_and_tokens):
    app, tokens = app_and_tokens
    client = TestClient(app)
    checked = 0
    for method, path, role in _api_routes(app):
        for lower in ROLES[: ROLES.index(role)]:
            r = client.request(method, _fill(path), json={}, headers=auth(tokens[lower]))
            assert r.status_code == 403, (method, path, lower, r.text)
            assert f"needs the {role} role" in r.json()["detail"]
            checked += 1
        r = client.request(method, _fill(path), json={}, headers=auth(tokens[role]))
        assert r.status_code not in (401, 403), (method, path, role, r.text)
    assert checked >= 20  # service, engineer and admin routes exist and were refused to lower roles
