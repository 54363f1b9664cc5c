"""Rows holding a lone UTF-16 surrogate are read, never refused.

The API refuses such text on input (foreshock/jsontext.py), but a row written before that check, or by another
tool straight into the database, still holds one in its JSON columns (``"\\ud800"``): the ticket list, the
ticket and every other list showing such a row answered 500 (the JSON encoder cannot write it as UTF-8), and
the ticket board stayed empty for everyone. Each lone surrogate is now written as U+FFFD, in that row only.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from tests.api.conftest import auth, make_tokens
from tests.api.scenario import seed

BAD = "before \ud800 after"  # a high surrogate with no low one after it: no character
EMOJI = "ok \U0001F600"  # a surrogate pair in JSON ("\ud83d\ude00"): one character, to be kept as it is


@pytest.fixture
def raw(sqlite_ctx):
    """(client, viewer headers, scenario) over a SQLite database whose rows another tool wrote to directly."""
    world = seed(sqlite_ctx)
    tokens = make_tokens(sqlite_ctx)
    with TestClient(create_app(sqlite_ctx)) as client:
        yield client, auth(tokens["viewer"]), world, sqlite_ctx


def _write(ctx, sql: str, **params) -> None:
    """``sql`` straight into the database, as another tool would, bypassing the API and the ORM."""
    with ctx.session_factory() as s:
        s.execute(text(sql), params)
        s.commit()


def test_a_ticket_row_with_a_lone_surrogate_is_listed_with_a_replacement_character(raw):
    client, v, world, ctx = raw
    # json.dumps escapes as ASCII: "\ud800" is stored as those six characters, as such a tool wrote it
    comments = json.dumps([{"at": 1.0e9, "by": "old-tool", "text": BAD}, {"at": 1.0e9, "by": "x", "text": EMOJI}])
    _write(ctx, "UPDATE tickets SET comments = :c, eight_d = :d WHERE number = :n", c=comments,
           d=json.dumps({"D3": {"note": BAD, "\udfff key": 1}}), n=world.ticket)
    assert "\\ud800" in comments

    r = client.get("/api/v1/tickets", headers=v)
    assert r.status_code == 200, r.text
    (t,) = [t for t in r.json()["data"] if t["number"] == world.ticket]
    assert [c["text"] for c in t["comments"]] == ["before \ufffd after", EMOJI]
    assert t["eight_d"]["D3"] == {"note": "before \ufffd after", "\ufffd key": 1}

    r = client.get(f"/api/v1/tickets/{world.ticket}", headers=v)
    assert r.status_code == 200, r.text
    assert r.json()["comments"][0]["text"] == "before \ufffd after" and r.json()["comments"][1]["text"] == EMOJI
    # what is stored is left as it was: only the answer replaces it
    with ctx.session_factory() as s:
        stored = s.execute(text("SELECT comments FROM tickets WHERE number = :n"), {"n": world.ticket}).scalar_one()
    assert "\\ud800" in stored


def test_only_the_rows_holding_one_are_changed(raw):
    """A second ticket's text, with characters outside the BMP and U+FFFD itself, comes back exactly as stored."""
    client, v, world, ctx = raw
    with ctx.session_factory() as s:
        (n,) = s.execute(text("SELECT count(*) FROM tickets")).one()
    assert n == 1
    _write(ctx, "INSERT INTO tickets (number, kind, device_id, failure_mode, grade, status, is_open, title, "
                "opened_at, response_due, resolution_due, response_breached, resolution_breached, escalation_level, "
                "repeat_failure, eight_d, comments, source) VALUES ('PF209901001', 'unit', 'P-0002', 'imbalance', "
                "'minor', 'received', 1, 'written elsewhere', 1.0e9, 1.0e9, 1.0e9, 0, 0, 0, 0, '{}', :c, 'proactive')",
           c=json.dumps([{"at": 1.0e9, "by": "tool", "text": BAD}]))
    _write(ctx, "UPDATE tickets SET comments = :c WHERE number = :n",
           c=json.dumps([{"at": 1.0e9, "by": "x", "text": f"{EMOJI} \ufffd ünïcode"}]), n=world.ticket)
    r = client.get("/api/v1/tickets", headers=v)
    assert r.status_code == 200, r.text
    by = {t["number"]: t for t in r.json()["data"]}
    assert by["PF209901001"]["comments"][0]["text"] == "before \ufffd after"
    assert by[world.ticket]["comments"][0]["text"] == f"{EMOJI} \ufffd ünïcode"


def test_the_audit_trail_alerts_and_unit_health_read_the_same_way(raw):
    """The same JSON encoding writes every answer: a lone surrogate in a ticket's history, an alert's detail or a
    unit's saved assessment broke the ticket, the alert inbox and the fleet list alike."""
    client, v, world, ctx = raw
    _write(ctx, "UPDATE ticket_events SET detail = :d", d=json.dumps({"note": BAD}))
    _write(ctx, "UPDATE alerts SET detail = :d", d=json.dumps({"reasons": [BAD]}))
    _write(ctx, "UPDATE detector_state SET assessment_json = :a WHERE device_id = :u",
           a=json.dumps({"ts": 1.0e9, "state": "watch", "reasons": [BAD]}), u=world.watch)

    r = client.get(f"/api/v1/tickets/{world.ticket}", headers=v)
    assert r.status_code == 200, r.text
    assert {e["detail"].get("note") for e in r.json()["audit"]} == {"before \ufffd after"}
    r = client.get("/api/v1/alerts", headers=v)
    assert r.status_code == 200, r.text
    assert {a["detail"]["reasons"][0] for a in r.json()["data"]} == {"before \ufffd after"}
    r = client.get("/api/v1/units", headers=v)
    assert r.status_code == 200, r.text
    (u,) = [u for u in r.json()["data"] if u["device_id"] == world.watch]
    assert u["health"]["reasons"] == ["before \ufffd after"]
    assert client.get(f"/api/v1/units/{world.watch}", headers=v).json()["health"]["reasons"] == ["before \ufffd after"]


def test_a_lone_surrogate_in_a_key_of_any_json_column_is_read_as_a_replacement_character(raw):
    """A key (not only a value) holding one failed FastAPI's serialization of every route but the ticket
    routes' (an alert's detail, a complaint's evidence: 400 "Error serializing to JSON"). The database's
    JSON reader now replaces it for every reader, the API's answers and the command line's alike."""
    client, v, world, ctx = raw
    _write(ctx, "UPDATE alerts SET detail = :d", d=json.dumps({"reasons": ["x"], "by \udfff key": {"in \ud800": 1}}))
    r = client.get("/api/v1/alerts", headers=v)
    assert r.status_code == 200, r.text
    details = [a["detail"] for a in r.json()["data"]]
    assert details and all(d["by \ufffd key"] == {"in \ufffd": 1} for d in details)
    one = r.json()["data"][0]["id"]
    assert client.get(f"/api/v1/alerts/{one}", headers=v).json()["detail"]["by \ufffd key"] == {"in \ufffd": 1}
    with ctx.session_factory() as s:  # stored as it was
        stored = s.execute(text("SELECT detail FROM alerts")).scalars().all()
    assert all("\\udfff" in d for d in stored)
