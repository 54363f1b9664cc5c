"""Tokens: stored hashed, verified, revoked; the CLI prints a token once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.models import ApiToken
from api.tokens import TokenError, create_token, list_tokens, revoke_token, verify_token


def test_token_is_stored_hashed_and_verifies(ctx):
    with ctx.session_factory() as s:
        _tok, secret = create_token(session=s, name="alice", role="service")
        s.commit()
    with ctx.session_factory() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.name == "alice"))
        assert secret not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
        assert verify_token(session=s, token=secret).name == "alice"
        assert verify_token(session=s, token=secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
        assert verify_token(session=s, token="garbage") is None


def test_revoked_token_no_longer_verifies(ctx):
    with ctx.session_factory() as s:
        _, secret = create_token(session=s, name="bob", role="viewer")
        revoke_token(session=s, name="bob")
        s.commit()
        assert verify_token(session=s, token=secret) is None
        assert [t.name for t in list_tokens(session=s)] == ["bob"]


@pytest.mark.parametrize(
    "name, role, message",
    [("ok", "superuser", "unknown role 'superuser'"), ("bad name!", "viewer", "bad token name"),
     ("", "viewer", "bad token name")],
)
def test_bad_token_input_is_named(sqlite_ctx, name, role, message):
    with sqlite_ctx.session_factory() as s, pytest.raises(TokenError, match=message):
        create_token(session=s, name=name, role=role)


def test_duplicate_name_and_unknown_revoke(sqlite_ctx):
    with sqlite_ctx.session_factory() as s:
        create_token(session=s, name="dup", role="viewer")
        with pytest.raises(TokenError, match="already exists"):
            create_token(session=s, name="dup", role="admin")
        with pytest.raises(TokenError, match="no token named 'ghost'"):
            revoke_token(session=s, name="ghost")


def test_cli_create_list_revoke(tmp_path, monkeypatch, capsys):
    from foreshock.cli import main

    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path))
    assert main(["token", "create", "--name", "grafana", "--role", "viewer"]) == 0
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("fs_")
    assert main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "grafana" in listing and "viewer" in listing and secret not in listing
    assert main(["token", "create", "--name", "grafana", "--role", "viewer"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["token", "revoke", "grafana"]) == 0
    capsys.readouterr()
    assert main(["token", "list"]) == 0
    assert "grafana" not in capsys.readouterr().out
    assert main(["token", "revoke", "nobody"]) == 2
    assert "no token named 'nobody'" in capsys.readouterr().err


def test_token_routes(client, tokens):
    from tests.api.conftest import auth

    a = auth(tokens["admin"])
    assert client.get("/api/v1/me", headers=auth(tokens["service"])).json() == {"name": "t-service", "role": "service"}
    r = client.post("/api/v1/tokens", json={"name": "grafana", "role": "viewer"}, headers=a)
    assert r.status_code == 201
    secret = r.json()["token"]
    assert client.get("/api/v1/me", headers=auth(secret)).json()["role"] == "viewer"
    listed = client.get("/api/v1/tokens", headers=a).json()  # {data, count} like every list (was a bare array)
    assert listed["count"] == len(listed["data"]) == 5  # the four fixtures and grafana
    assert "grafana" in {t["name"] for t in listed["data"]} and all("token" not in t for t in listed["data"])
    assert client.post("/api/v1/tokens", json={"name": "grafana", "role": "viewer"}, headers=a).status_code == 409
    assert client.delete("/api/v1/tokens/grafana", headers=a).json()["revoked"]
    assert client.get("/api/v1/me", headers=auth(secret)).status_code == 401
    assert client.get("/api/v1/tokens", headers=auth(tokens["engineer"])).status_code == 403
