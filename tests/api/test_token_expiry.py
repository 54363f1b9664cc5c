"""Tokens may expire: a lifetime in whole days at creation (API ``expires_in_days``, CLI ``--expires-in-days``);
an expired token gets 401 saying when it expired; the list shows the expiry; an expired admin token is not an
active one; the live-update stream ends when its token expires; existing tokens keep no expiry."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.tokens import (
    Conflict,
    TokenError,
    create_token,
    expiry_text,
    list_tokens,
    new_secret,
    parse_secret,
    revoke_token,
    verify_token,
)
from tests.api.conftest import auth


@pytest.fixture
def clock(monkeypatch):
    """Moves the tokens' clock: ``clock[0] = timedelta(days=2)`` is two days from now."""
    import api.tokens

    shift = [timedelta(0)]
    real = api.tokens.utcnow
    monkeypatch.setattr(api.tokens, "utcnow", lambda: real() + shift[0])
    return shift


def test_a_token_created_with_a_lifetime_shows_its_expiry(client, tokens):
    a = auth(tokens["admin"])
    r = client.post("/api/v1/tokens", json={"name": "contractor", "role": "service", "expires_in_days": 30}, headers=a)
    assert r.status_code == 201, r.text
    from datetime import datetime

    made = r.json()
    assert datetime.fromisoformat(made["expires"]) - datetime.fromisoformat(made["created"]) == timedelta(days=30)
    assert client.get("/api/v1/me", headers=auth(made["token"])).json() == {"name": "contractor", "role": "service"}
    listed = {t["name"]: t["expires"] for t in client.get("/api/v1/tokens", headers=a).json()["data"]}
    assert listed["contractor"] == made["expires"]
    assert listed["t-admin"] is None  # created without a lifetime: never expires
    r = client.post("/api/v1/tokens", json={"name": "forever", "role": "viewer", "expires_in_days": None}, headers=a)
    assert r.status_code == 201 and r.json()["expires"] is None


@pytest.mark.parametrize("value, message", [
    (0, "expires_in_days: Input should be greater than or equal to 1"),
    (-5, "expires_in_days: Input should be greater than or equal to 1"),
    (3651, "expires_in_days: Input should be less than or equal to 3650"),
    (1.5, "expires_in_days: Input should be a valid integer"),
    ("90d", "expires_in_days: Input should be a valid integer"),
    ("30", "expires_in_days: Input should be a valid integer"),
    (True, "expires_in_days: Input should be a valid integer"),
])
def test_a_bad_lifetime_is_refused_by_name(sqlite_ctx, value, message):
    from tests.api.conftest import make_tokens

    tokens = make_tokens(sqlite_ctx)
    with TestClient(create_app(sqlite_ctx)) as client:
        r = client.post("/api/v1/tokens", json={"name": "x", "role": "viewer", "expires_in_days": value},
                        headers=auth(tokens["admin"]))
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"], r.json()["detail"]
    with sqlite_ctx.session_factory() as s:
        assert "x" not in {t.name for t in list_tokens(session=s)}


@pytest.mark.parametrize("value", [0, 3651, 2.5, "7", True])
def test_the_service_function_refuses_a_bad_lifetime_too(sqlite_ctx, value):
    with sqlite_ctx.session_factory() as s, pytest.raises(TokenError) as err:
        create_token(session=s, name="x", role="viewer", expires_in_days=value)
    assert str(err.value) == f"expires_in_days must be a whole number of days from 1 to 3650, got {value!r}"


def test_an_expired_token_gets_401_saying_when(client, ctx, tokens, clock):
    with ctx.session_factory() as s:
        tok, secret = create_token(session=s, name="temp", role="viewer", expires_in_days=1)
        when = expiry_text(tok)
        _, both = create_token(session=s, name="gone", role="viewer", expires_in_days=1)
        revoke_token(session=s, name="gone")
        s.commit()
    assert client.get("/api/v1/me", headers=auth(secret)).status_code == 200
    clock[0] = timedelta(days=1, seconds=1)
    r = client.get("/api/v1/me", headers=auth(secret))
    assert r.status_code == 401
    assert r.json()["detail"] == f"token 'temp' expired at {when}; ask an admin for a new one"
    assert when.endswith("Z") and len(when) == 20
    # distinct from an unknown token, a revoked one (expired too), and a wrong secret with the right prefix
    prefix, _ = parse_secret(secret)
    for other in ("fs_00000000_" + "x" * 43, both, f"fs_{prefix}_" + "y" * 43):
        r = client.get("/api/v1/me", headers=auth(other))
        assert r.status_code == 401 and r.json()["detail"] == "invalid or revoked token", other
    assert client.get("/api/v1/me", headers=auth(tokens["viewer"])).status_code == 200  # no expiry: still fine
    with ctx.session_factory() as s:
        assert verify_token(session=s, token=secret) is None


def test_an_expired_admin_token_is_not_an_active_one(ctx, clock):
    with ctx.session_factory() as s:
        create_token(session=s, name="root", role="admin")
        create_token(session=s, name="temp-admin", role="admin", expires_in_days=1)
        s.commit()
    clock[0] = timedelta(days=2)
    with ctx.session_factory() as s:
        with pytest.raises(Conflict, match="'root' is the last active admin token"):
            revoke_token(session=s, name="root")  # the other admin token has expired: it would lock everyone out
        assert revoke_token(session=s, name="temp-admin").revoked is not None  # expired: revoking it takes nothing
        s.commit()
    clock[0] = timedelta(0)
    with ctx.session_factory() as s:
        create_token(session=s, name="temp2", role="admin", expires_in_days=1)
        assert revoke_token(session=s, name="root").revoked is not None  # temp2 is active for a day yet
        s.commit()


def test_the_api_refuses_to_revoke_the_last_unexpired_admin_token(client, ctx, tokens, clock):
    a = auth(tokens["admin"])
    r = client.post("/api/v1/tokens", json={"name": "root2", "role": "admin", "expires_in_days": 1}, headers=a)
    assert r.status_code == 201
    clock[0] = timedelta(days=2)
    r = client.delete("/api/v1/tokens/t-admin", headers=a)
    assert r.status_code == 409 and "last active admin token" in r.json()["detail"], r.text


def test_the_cli_creates_lists_and_refuses_lifetimes(tmp_path, monkeypatch, capsys, clock):
    from foreshock.cli import main

    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path))
    assert main(["token", "create", "--name", "ci", "--role", "viewer", "--expires-in-days", "90"]) == 0
    out = capsys.readouterr()
    assert out.out.strip().startswith("fs_") and "created, valid until 20" in out.err
    assert main(["token", "create", "--name", "root", "--role", "admin"]) == 0
    capsys.readouterr()
    assert main(["token", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert "EXPIRES" in listing[0]
    rows = {line.split()[0]: line for line in listing[1:]}
    assert " never " in rows["root"] and "(expired)" not in rows["ci"]
    for bad, message in [("0", "expected a whole number of days from 1 to 3650, got 0"),
                         ("90d", "expected a whole number of days from 1 to 3650, got '90d'"),
                         ("4000", "expected a whole number of days from 1 to 3650, got 4000")]:
        with pytest.raises(SystemExit) as exit_:
            main(["token", "create", "--name", "x", "--role", "viewer", "--expires-in-days", bad])
        assert exit_.value.code == 2
        assert f"argument --expires-in-days: {message}" in capsys.readouterr().err
    clock[0] = timedelta(days=91)
    assert main(["token", "list"]) == 0
    assert "ci " not in capsys.readouterr().out  # expired: listed only with --all, marked
    assert main(["token", "list", "--all"]) == 0
    assert "(expired)" in {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}["ci"]


def test_an_open_event_stream_ends_when_its_token_expires(client, ctx, clock, monkeypatch):
    """The stream checks its token's expiry at every event and heartbeat."""
    import threading
    import time

    with ctx.session_factory() as s:
        _, secret = create_token(session=s, name="wall", role="viewer", expires_in_days=1)
        s.commit()

    # The token expires once the stream has passed the first event on: the stream asks its source for
    # the next event only after it has sent the last one. (Fixed waits of 0.3 s let a slow machine
    # expire the token while the stream still held the first event, and it was never sent.)
    passed_on = threading.Event()
    real_stream = ctx.events.stream

    async def stream(sub, **kwargs):
        async for chunk in real_stream(sub, **kwargs):
            yield chunk
            if "before-expiry" in chunk:
                passed_on.set()

    monkeypatch.setattr(ctx.events, "stream", stream)

    def expire_then_publish() -> None:
        deadline = time.monotonic() + 60
        while ctx.events.subscribers == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        ctx.events.publish("ticket", {"ticket": "PF-202611-0001", "status": "before-expiry"})
        passed_on.wait(60)
        clock[0] = timedelta(days=1, seconds=1)
        ctx.events.publish("ticket", {"ticket": "PF-202611-0001", "status": "after-expiry"})

    threading.Thread(target=expire_then_publish, daemon=True).start()
    with client.stream("GET", "/api/v1/events", params={"max_events": 5, "heartbeat_s": 60, "timeout_s": 60},
                       headers=auth(secret)) as r:
        assert r.status_code == 200
        text = "".join(r.iter_text())
    assert "before-expiry" in text and "after-expiry" not in text, text
    r = client.get("/api/v1/events", params={"max_events": 1}, headers=auth(secret))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path):
    """An empty database of this test's own (the session's PostgreSQL database is migrated already)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    from tests.servers import fresh_postgres_database

    yield from fresh_postgres_database()


def test_the_upgrade_from_the_previous_head_keeps_existing_tokens_without_expiry(empty_db_url):
    """Migration a2 on a database at the api branch's previous head (a1) holding a token: the column is added,
    empty, and the token still works; then the tables match the models, and the downgrade takes it away."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect, text

    from foreshock.db import Base, _alembic_config, make_engine, migrate, session_factory

    engine = make_engine(empty_db_url)
    cfg = _alembic_config(engine)
    secret = new_secret()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "a1_api_tokens")
        assert "expires" not in {c["name"] for c in inspect(conn).get_columns("api_tokens")}
        conn.execute(text("INSERT INTO api_tokens (name, role, prefix, token_hash, created) "
                          "VALUES ('old', 'admin', :prefix, :hash, CURRENT_TIMESTAMP)"),
                     {"prefix": parse_secret(secret)[0], "hash": hashlib.sha256(secret.encode()).hexdigest()})
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, expires FROM api_tokens")).all() == [("old", None)]
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert [d for d in diffs if "api_tokens" in repr(d)] == []
    with session_factory(engine)() as s:
        tok = verify_token(session=s, token=secret)
        assert tok is not None and tok.name == "old" and tok.expires is None
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "a1_api_tokens")
        assert "expires" not in {c["name"] for c in inspect(conn).get_columns("api_tokens")}
        assert conn.execute(text("SELECT name FROM api_tokens")).scalars().all() == ["old"]
    engine.dispose()
