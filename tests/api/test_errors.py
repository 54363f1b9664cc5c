"""Error bodies: the message names the problem, quoted names intact, a non-JSON body said so."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import auth, make_tokens


@pytest.fixture
def admin(sqlite_ctx):
    tokens = make_tokens(sqlite_ctx)
    with TestClient(create_app(sqlite_ctx)) as client:
        yield client, auth(tokens["admin"])


def test_a_missing_ticket_is_named_with_both_quotes(admin):
    client, h = admin
    r = client.post("/api/v1/tickets/PF999/move", json={"to": "triaged"}, headers=h)
    assert r.status_code == 404
    assert r.json()["detail"] == "no ticket 'PF999'"


def test_a_csv_row_naming_a_missing_model_keeps_its_closing_quote(admin):
    client, h = admin
    r = client.post("/api/v1/units/import", content="device_id,model\nP-0010,NOPE\n",
                    headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 400
    assert r.json()["detail"].endswith("no machine model named 'NOPE'")


def test_a_body_that_is_not_json_says_so_and_where(admin):
    client, h = admin
    r = client.post("/api/v1/units", content="{bad", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422
    body = r.json()
    assert body["errors"] == [{"loc": "body", "msg": "not valid JSON: Expecting property name enclosed in double "
                                                     "quotes (at character 1)"}]
    assert body["detail"].startswith("invalid request: body: not valid JSON")
