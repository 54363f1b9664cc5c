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


def test_two_admins_creating_one_name_at_once_get_one_token_and_a_409(ctx, monkeypatch):
    """Five parallel POST /api/v1/tokens of one name answered one 201 and four 500s (the unique index's
    IntegrityError): both had looked for the name before either wrote it."""
    import threading

    import api.tokens
    from api.errors import domain_status
    from tests.rendezvous import meeting, run_together

    monkeypatch.setattr(api.tokens, "new_secret", meeting(api.tokens.new_secret, threading.Barrier(2)))
    outcome: list = []

    def create() -> None:
        with ctx.session_factory() as s:
            try:
                create_token(session=s, name="racer", role="viewer")
                s.commit()
                outcome.append("created")
            except Exception as exc:  # noqa: BLE001 - what the API would answer
                s.rollback()
                outcome.append(exc)

    run_together(create, create)
    refused = [e for e in outcome if e != "created"]
    assert outcome.count("created") == 1 and len(refused) == 1, outcome
    assert isinstance(refused[0], TokenError) and str(refused[0]) == "a token named 'racer' already exists"
    assert domain_status(refused[0]) == 409
    with ctx.session_factory() as s:
        assert [t.name for t in list_tokens(session=s)].count("racer") == 1


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


def test_the_last_admin_token_cannot_be_revoked(client, tokens):
    """Revoking the last active admin token locked every admin out of the API (it was a 200): now 409."""
    from tests.api.conftest import auth

    first = auth(tokens["admin"])
    r = client.delete("/api/v1/tokens/t-admin", headers=first)  # an admin revoking their own, the only one
    assert r.status_code == 409, r.text
    assert "last active admin token" in r.json()["detail"] and "create another admin token first" in r.json()["detail"]
    assert client.get("/api/v1/tokens", headers=first).status_code == 200  # still an admin
    second = auth(client.post("/api/v1/tokens", json={"name": "root2", "role": "admin"}, headers=first).json()["token"])
    assert client.delete("/api/v1/tokens/t-admin", headers=second).json()["revoked"]  # another admin remains
    assert client.get("/api/v1/tokens", headers=first).status_code == 401
    r = client.delete("/api/v1/tokens/root2", headers=second)
    assert r.status_code == 409 and "'root2'" in r.json()["detail"], r.text
    assert client.delete("/api/v1/tokens/t-admin", headers=second).status_code == 200  # already revoked: no change
    assert client.delete("/api/v1/tokens/t-engineer", headers=second).status_code == 200  # other roles: as before
    listed = {t["name"]: t["revoked"] for t in client.get("/api/v1/tokens", headers=second).json()["data"]}
    assert listed["root2"] is None and listed["t-admin"] and listed["t-engineer"]


def test_the_cli_refuses_to_revoke_the_last_admin_token(tmp_path, monkeypatch, capsys):
    from foreshock.cli import main

    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path))
    assert main(["token", "create", "--name", "root", "--role", "admin"]) == 0
    assert main(["token", "revoke", "root"]) == 2
    assert "last active admin token" in capsys.readouterr().err
    assert main(["token", "create", "--name", "root2", "--role", "admin"]) == 0
    assert main(["token", "revoke", "root"]) == 0


def test_two_admins_revoking_each_other_at_once_leave_one(postgres_url):
    """Two transactions each see two admins; without a row lock both revokes commit and no admin is left."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from api.testing import context_for
    from api.tokens import Conflict
    from tests.api.conftest import _empty_tables

    ctx = context_for(postgres_url)
    _empty_tables(ctx)
    with ctx.session_factory() as s:
        create_token(session=s, name="a1", role="admin")
        create_token(session=s, name="a2", role="admin")
        s.commit()
    with ctx.session_factory() as first, ctx.session_factory() as second:
        revoke_token(session=first, name="a1")
        first.flush()  # a1 revoked, not yet committed
        second.execute(text("SET LOCAL lock_timeout = '2s'"))
        try:
            revoke_token(session=second, name="a2")  # must wait for the first transaction (here: give up)
            second.flush()
            second.commit()
        except (OperationalError, Conflict):
            second.rollback()
        first.commit()
    with ctx.session_factory() as s:
        active = [t.name for t in list_tokens(session=s) if t.revoked is None]
        with pytest.raises(Conflict):
            revoke_token(session=s, name="a2")
    assert active == ["a2"]
    ctx.session_factory.kw["bind"].dispose()


def test_an_open_event_stream_ends_when_its_token_is_revoked(client, ctx, tokens, monkeypatch):
    """The SSE stream checked the token once, at connect: a revoked token kept receiving live updates."""
    import threading
    import time

    import api.routes.events
    from tests.api.conftest import auth

    monkeypatch.setattr(api.routes.events, "TOKEN_RECHECK_S", 0.0)  # check at every event (default: 15 s)

    def revoke_then_publish() -> None:
        deadline = time.monotonic() + 60  # generous: a loaded machine may take long to open the stream
        while ctx.events.subscribers == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        with ctx.session_factory() as s:
            revoke_token(session=s, name="t-viewer")
            s.commit()
        ctx.events.publish("ticket", {"ticket": "PF-202611-0001", "status": "after-revocation"})

    threading.Thread(target=revoke_then_publish, daemon=True).start()
    with client.stream("GET", "/api/v1/events", params={"max_events": 1, "heartbeat_s": 0.05, "timeout_s": 30},
                       headers=auth(tokens["viewer"])) as r:
        assert r.status_code == 200
        text = "".join(r.iter_text())
    assert "after-revocation" not in text, text
    assert client.get("/api/v1/events", params={"max_events": 1}, headers=auth(tokens["viewer"])).status_code == 401
