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


def test_a_method_a_path_does_not_have_is_named_with_the_allowed_ones(admin):
    """It answered {"detail": "Method Not Allowed"}, naming neither the method nor what the path takes."""
    client, h = admin
    r = client.delete("/api/v1/units", headers=h)
    assert r.status_code == 405
    assert r.json()["detail"] == "DELETE is not allowed on /api/v1/units (allowed: GET, POST)"


def test_a_body_that_is_not_json_says_so_and_where(admin):
    client, h = admin
    r = client.post("/api/v1/units", content="{bad", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422
    body = r.json()
    assert body["errors"] == [{"loc": "body", "msg": "not valid JSON: Expecting property name enclosed in double "
                                                     "quotes (at character 1)"}]
    assert body["detail"].startswith("invalid request: body: not valid JSON")


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_a_json_body_without_its_content_type_names_the_header(admin, content_type):
    """curl -d without -H 'Content-Type: application/json' got "request: Input should be a valid dictionary"."""
    client, h = admin
    headers = {**h, **({"Content-Type": content_type} if content_type else {})}
    r = client.post("/api/v1/tokens", content=b'{"name": "x", "role": "viewer"}', headers=headers)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"loc": "body", "msg": "not read as JSON: send it with Content-Type: "
                                                         f"application/json (got {content_type or 'none'!r})"}]
    assert client.get("/api/v1/tokens", headers=h).json()["count"] == 4  # nothing created


def test_a_json_body_that_is_no_object_says_what_it_is(admin):
    client, h = admin
    r = client.post("/api/v1/tokens", json=[{"name": "x", "role": "viewer"}], headers=h)
    assert r.status_code == 422
    assert r.json()["detail"] == "invalid request: body: expected a JSON object, got an array"


@pytest.mark.parametrize("method,path", [("GET", "/api/v1/alerts/{}"), ("POST", "/api/v1/alerts/{}/ack")])
def test_an_alert_id_beyond_the_database_integer_is_a_422_not_a_500(admin, method, path):
    client, h = admin
    r = client.request(method, path.format(10**20), headers=h)
    assert r.status_code == 422 and "alert_id" in r.json()["detail"]
    r = client.request(method, path.format(0), headers=h)
    assert r.status_code == 422 and "alert_id: Input should be greater than or equal to 1" in r.json()["detail"]
    assert client.request(method, path.format(2**31 - 1), headers=h).json()["detail"] == f"no alert {2**31 - 1}"


@pytest.mark.parametrize("method,path,body,field", [
    # {"expires_in": 30} created a token that never expires, without a word
    ("POST", "/api/v1/tokens", {"name": "contractor", "role": "viewer", "expires_in": 30}, "expires_in"),
    ("POST", "/api/v1/maintenance", {"device_id": "P-0001", "starts_at": 1795305600, "ends_at": 1795309200,
                                     "reasons": "bearing swap"}, "reasons"),
    ("PUT", "/api/v1/models/NOPE/detector-config", {"config": {"warmup": 30}, "confg": {}}, "confg"),
])
def test_a_misspelt_body_field_is_refused_by_name(admin, method, path, body, field):
    client, h = admin
    r = client.request(method, path, json=body, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == f"invalid request: {field}: Extra inputs are not permitted", r.json()


def test_a_database_that_cannot_be_reached_is_a_named_503_not_a_500(client, ctx, tokens, monkeypatch):
    """With the link to PostgreSQL cut, every list answered a bare 500 (and a traceback in the log);
    /readyz cut its detail in the middle of SQLAlchemy's link."""
    from sqlalchemy.exc import OperationalError

    class Cut:  # the session factory of a service whose database link is cut
        kw = ctx.session_factory.kw

        def __call__(self, *a, **k):
            raise OperationalError("SELECT 1", {}, Exception('connection to server at "db" (10.0.0.5), port 5432 '
                                                              'failed: Connection refused\n\tIs the server running?'))

    monkeypatch.setattr(ctx, "session_factory", Cut())
    r = client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {tokens['viewer']}"})
    assert r.status_code == 503 and r.headers["retry-after"] == "10", r.text
    assert r.json()["detail"] == ('the database is unavailable: connection to server at "db" (10.0.0.5), '
                                  'port 5432 failed: Connection refused')
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == ('error: Exception: connection to server at "db" (10.0.0.5), port 5432 '
                                              'failed: Connection refused')
