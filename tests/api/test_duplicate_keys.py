"""A JSON body that gives a key twice (``{"text": "a", "text": "b"}``) is refused with 422 naming the key, on
every route that takes a JSON body; nothing is stored.

Before, Python's json.loads (which FastAPI parses bodies with) kept the last value silently: the comment
"b" was stored and the answer was 200. SQLite and PostgreSQL (``ctx``) for the ticket route; the walk over
every route runs on SQLite.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import API_PREFIX, create_app
from api.routes import routers
from tests.api.conftest import auth, make_tokens

JSON = {"Content-Type": "application/json"}


def test_a_comment_whose_text_is_given_twice_is_refused_naming_the_key(client, tokens, world):
    s = auth(tokens["service"])
    r = client.post(f"/api/v1/tickets/{world.ticket}/comments", content=b'{"text": "a", "text": "b"}',
                    headers={**s, **JSON})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == ("invalid request: text: duplicated key 'text': given 2 times in one JSON object "
                                  "(only the last value would be used); give each key once")
    assert r.json()["errors"] == [{"loc": "text", "msg": "duplicated key 'text': given 2 times in one JSON object "
                                                         "(only the last value would be used); give each key once"}]
    assert client.get(f"/api/v1/tickets/{world.ticket}", headers=s).json()["comments"] == []
    # a key of the same name in another object is no duplicate
    r = client.post(f"/api/v1/tickets/{world.ticket}/comments", content=b'{"text": "grinding noise"}',
                    headers={**s, **JSON})
    assert r.status_code == 200, r.text


def test_a_duplicated_key_deep_in_a_body_is_named_with_its_path(client, tokens, world):
    r = client.post("/api/v1/complaints", headers={**auth(tokens["service"]), **JSON}, content=(
        b'{"contact": {"name": "Ann", "email": "ann@acme.example", "email": "bo@acme.example"}, "device_id": "P-0001",'
        b' "description": "The pump grinds", "occurred_at": 1790000000, "request": "repair",'
        b' "attachments": [{"name": "a.txt", "url": "https://x.example/a", "name": "b.txt"}]}'))
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == ["contact.email", "attachments.0.name"]
    assert client.get("/api/v1/complaints", headers=auth(tokens["viewer"])).json()["count"] == 0


def test_no_token_is_still_401_before_the_body_is_judged(client, world):
    r = client.post(f"/api/v1/tickets/{world.ticket}/comments", content=b'{"text": "a", "text": "b"}', headers=JSON)
    assert r.status_code == 401


def _body_routes():
    for r in routers():
        for route in r.routes:
            if getattr(route, "body_field", None) is not None:
                for method in sorted(route.methods - {"HEAD"}):
                    yield method, r.prefix + route.path.removeprefix(r.prefix)


@pytest.mark.parametrize(("method", "path"), sorted(set(_body_routes())))
def test_every_route_with_a_json_body_refuses_a_duplicated_key(sqlite_ctx, method, path):
    tokens = make_tokens(sqlite_ctx)
    url = API_PREFIX + re.sub(r"\{[^}]+\}", "1", path)
    with TestClient(create_app(sqlite_ctx)) as client:
        r = client.request(method, url, content=b'{"zz_key": 1, "zz_key": 2}',
                           headers={**auth(tokens["admin"]), **JSON})
    assert r.status_code == 422, r.text
    assert "zz_key: duplicated key 'zz_key': given 2 times" in r.json()["detail"], r.text


@pytest.mark.parametrize(("raw", "loc", "words"), [
    (rb'{"content": {"note": "\ud800"}}', "content.note", "a lone UTF-16 surrogate"),
    (rb'{"content": {"\udfff": 1}}', "content", "a key with a lone UTF-16 surrogate"),
    (rb'{"content": "x \ud83d"}', "content", "a lone UTF-16 surrogate"),
    (b'{"content": {"v": NaN}}', "content.v", "NaN is not a JSON number"),
    (b'{"content": [1, -Infinity]}', "content.1", "-Infinity is not a JSON number"),
])
def test_8d_content_json_cannot_hold_is_refused_and_the_ticket_stays_readable(client, tokens, world, raw, loc, words):
    """A lone surrogate (``"\\ud800"``) in an 8D discipline's JSON was stored, and from then on the ticket and the
    whole ticket list answered 400 "Error serializing to JSON" to everyone: one request made the board
    unreadable. NaN or Infinity (Python's parser takes them, JSON has neither) was stored and shown as null."""
    s = auth(tokens["service"])
    r = client.put(f"/api/v1/tickets/{world.ticket}/8d/D3", content=raw, headers={**s, **JSON})
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["loc"] == loc and words in error["msg"], error
    assert client.get(f"/api/v1/tickets/{world.ticket}", headers=s).status_code == 200
    assert client.get("/api/v1/tickets", headers=s).status_code == 200
    assert "D3" not in client.get(f"/api/v1/tickets/{world.ticket}", headers=s).json()["eight_d"]
    # a surrogate pair is one character (an emoji), and fine
    r = client.put(f"/api/v1/tickets/{world.ticket}/8d/D3", content=rb'{"content": {"note": "ok \ud83d\ude00"}}',
                   headers={**s, **JSON})
    assert r.status_code == 200 and r.json()["eight_d"]["D3"] == {"note": "ok \U0001F600"}, r.text
