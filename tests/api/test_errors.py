"""Error bodies: the message names the problem, quoted names intact, a non-JSON body said so."""

from __future__ import annotations

import json

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


@pytest.mark.parametrize(("path", "needs"), [("/api/v1/tokens", "name, role"),
                                             ("/api/v1/tickets/PF202611001/move", "to")])
def test_a_request_without_its_json_body_says_the_body_is_missing(admin, path, needs):
    """`curl -X POST …/move` without -d got "invalid request: request: Field required", naming neither the body
    nor what it needs."""
    client, h = admin
    r = client.post(path, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": "body", "msg": f"missing: this request needs a JSON object (with {needs}), "
                                                         "sent with Content-Type: application/json"}]


def test_a_csv_import_without_its_body_names_the_csv_type(admin):
    client, h = admin
    r = client.post("/api/v1/units/import", headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": "body", "msg": "missing: this request needs a body, sent with "
                                                         "Content-Type: text/csv"}]


def test_a_request_whose_body_fields_all_have_defaults_may_leave_the_body_out(admin):
    """A relearn takes {"accept_current": false, "reason": ""} by default; without a body it was the same 422."""
    client, h = admin
    r = client.post("/api/v1/units/P-0404/relearn", headers=h)
    assert r.status_code == 404 and r.json()["detail"] == "no unit 'P-0404' is registered", r.text


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


def test_two_admins_creating_one_model_at_once_get_one_and_a_409_not_a_500(admin, monkeypatch):
    """Four parallel POST /api/v1/models of one name answered one 201, two 409s and a 500: both had looked for
    the name before either wrote it, and the database's unique index refused the second (IntegrityError). A
    conflict the database catches is answered as the conflict it is."""
    import threading

    import devices.registry
    from tests.rendezvous import meeting, run_together

    client, h = admin
    monkeypatch.setattr(devices.registry, "apply_model", meeting(devices.registry.apply_model, threading.Barrier(2)))
    body = {"name": "X-1", "rated_rpm": 1500, "bearing": {"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04}}
    answers: list = []
    run_together(*[lambda: answers.append(client.post("/api/v1/models", json=body, headers=h))] * 2)
    assert sorted(r.status_code for r in answers) == [201, 409], [(r.status_code, r.text) for r in answers]
    refused = next(r for r in answers if r.status_code == 409).json()["detail"]
    # the registry now catches its own unique index: the same answer as for a model that was there before
    assert refused == "machine model 'X-1' already exists", refused
    assert [m["name"] for m in client.get("/api/v1/models", headers=h).json()["data"]] == ["X-1"]


def test_a_unique_index_refusal_no_service_caught_is_a_409_naming_the_duplicate(admin):
    """Any other write that meets a unique index (two requests creating one thing at once) is answered
    as the conflict it is, naming the duplicate from the database's own words, not as a 500."""
    from sqlalchemy.exc import IntegrityError

    class UniqueViolation(Exception):
        sqlstate = "23505"

    def create() -> None:
        raise IntegrityError("INSERT INTO things ...", {}, UniqueViolation(
            'duplicate key value violates unique constraint "uq_things_name"\nDETAIL:  Key (name)=(X-1) already exists.'))

    client, h = admin
    client.app.add_api_route("/api/v1/_test_unique", create, methods=["POST"])
    r = client.post("/api/v1/_test_unique", headers=h)
    assert r.status_code == 409, r.text
    assert r.json()["detail"].startswith("conflict with a change made at the same moment: Key (name)=(X-1) already exists")


@pytest.mark.parametrize("url, body, field", [
    ("/api/v1/corrective-actions", {"title": "t", "scope": {"model": "P-200"}, "applied_at": "2026-11-01",
                                     "baseline_d": "NaN"}, "baseline_d"),
    ("/api/v1/corrective-actions", {"title": "t", "scope": {"model": "P-200"}, "applied_at": "2026-11-01",
                                     "target_ratio": "NaN"}, "target_ratio"),
    ("/api/v1/maintenance", {"site": "Bremen", "starts_at": "NaN", "ends_at": 1795365600}, "starts_at"),
    ("/api/v1/maintenance", {"site": "Bremen", "starts_at": 1795362000, "ends_at": "Infinity"}, "ends_at"),
])
def test_a_number_that_is_not_finite_in_a_body_is_refused_as_such(admin, url, body, field):
    """Python's json writes NaN and Infinity, and the API's parser reads them: `"baseline_d": NaN` answered
    `Input should be less than or equal to 3650`, a limit NaN does not break."""
    client, h = admin
    text = json.dumps(body).replace('"NaN"', "NaN").replace('"Infinity"', "Infinity")
    r = client.post(url, content=text, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert any(e["loc"] == field and e["msg"].startswith("Input should be a finite number")
               for e in r.json()["errors"]), r.text


@pytest.mark.parametrize("body, field", [
    ({"name": "N-1", "rated_rpm": "NaN", "bearing": {"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04}}, "rated_rpm"),
    ({"name": "N-1", "rated_rpm": 1500, "bearing": {"n_balls": 9, "ball_d": "NaN", "pitch_d": 39.04}}, "bearing.ball_d"),
    ({"name": "N-1", "reporting_interval_s": "Infinity"}, "reporting_interval_s"),
    ({"name": "N-1", "zone_limits_mm_s": ["NaN", 1, 2]}, "zone_limits_mm_s.0"),
])
def test_a_machine_model_number_that_is_not_finite_is_refused_as_such(admin, body, field):
    client, h = admin
    text = json.dumps(body).replace('"NaN"', "NaN").replace('"Infinity"', "Infinity")
    r = client.post("/api/v1/models", content=text, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert any(e["loc"] == field and e["msg"].startswith("Input should be a finite number")
               for e in r.json()["errors"]), r.text
