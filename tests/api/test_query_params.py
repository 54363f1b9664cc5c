"""A query parameter a route does not declare is refused by name (422), never ignored.

``GET /api/v1/dead-letters?device=X`` (the filter is ``device_id``) answered every unit's dead
letters: a typo gave a wrong answer without a word.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import API_PREFIX, create_app
from ingest.deadletter import DeadLetterStore
from tests.api.conftest import auth, make_tokens


@pytest.fixture(scope="module")
def app_and_tokens(tmp_path_factory):
    from api.testing import context_for
    from tests.api.conftest import _with_services
    from tests.api.scenario import seed

    tmp = tmp_path_factory.mktemp("query")
    ctx = _with_services(context_for(f"sqlite:///{tmp / 'q.db'}"), tmp)
    ctx.deadletters = DeadLetterStore(ctx.session_factory)
    world = seed(ctx)
    yield create_app(ctx), make_tokens(ctx), world
    ctx.store.close()


@pytest.fixture(scope="module")
def admin(app_and_tokens):
    app, tokens, world = app_and_tokens
    with TestClient(app) as client:
        yield client, auth(tokens["admin"]), world


def test_a_misspelt_dead_letter_filter_is_refused_not_ignored(admin):
    client, h, _ = admin
    store: DeadLetterStore = client.app.state.context.deadletters
    for unit in ("P-0001", "P-0002"):
        store.add(topic=f"foreshock/v1/{unit}/telemetry", reason="bad_json", payload=b"{", received_at=1.8e9,
                  device_id=unit)
    assert client.get("/api/v1/dead-letters", params={"device_id": "P-0001"}, headers=h).json()["count"] == 1
    r = client.get("/api/v1/dead-letters", params={"device": "P-0001"}, headers=h)
    assert r.status_code == 422, r.text  # it was 200 with both units' dead letters
    body = r.json()
    assert body["detail"] == ("invalid request: query.device: unknown query parameter 'device' (did you mean "
                              "device_id?); GET /api/v1/dead-letters accepts device_id, limit, offset, reason")
    assert body["errors"] == [{"loc": "query.device", "msg": body["detail"].split("query.device: ", 1)[1]}]


@pytest.mark.parametrize("method, path, params, unknown, accepted", [
    ("GET", "/units", {"custmer": "ACME"}, "custmer",
     "customer, health, limit, model, offset, presence, site, sort"),
    ("GET", "/devices", {"sorting": "ttf"}, "sorting",
     "customer, health, limit, model, offset, presence, site, sort"),
    ("GET", "/alerts", {"state": "open"}, "state", None),
    ("GET", "/tickets", {"device": "P-0001", "limit": "5"}, "device", None),
    ("GET", "/units/{failing}", {"verbose": "1"}, "verbose", ""),
    ("GET", "/units/{failing}/series", {"field": "rms_g"}, "field", None),
    ("GET", "/reports/top", {"count": "3"}, "count", "by, days, n"),
    ("GET", "/me", {"x": "1"}, "x", ""),
    ("GET", "/events", {"heartbeat": "1", "timeout_s": "0.2"}, "heartbeat",
     "heartbeat_s, kinds, max_events, timeout_s"),
    ("POST", "/tickets/{ticket}/comments", {"notify": "1"}, "notify", ""),
    ("DELETE", "/tokens/nobody", {"force": "1"}, "force", ""),
])
def test_a_typo_is_refused_by_name_on_every_kind_of_route(admin, method, path, params, unknown, accepted):
    client, h, world = admin
    url = API_PREFIX + path.format(failing=world.failing, ticket=world.ticket)
    r = client.request(method, url, params=params, headers=h, json={"text": "x"} if method == "POST" else None)
    assert r.status_code == 422, (url, r.text)
    detail = r.json()["detail"]
    assert f"unknown query parameter '{unknown}'" in detail, detail
    if accepted == "":
        assert "takes no query parameters" in detail, detail
    elif accepted is not None:
        assert detail.endswith(f"accepts {accepted}"), detail


def test_several_unknown_parameters_are_each_named(admin):
    client, h, _ = admin
    r = client.get("/api/v1/units", params={"a": "1", "b": "2", "limit": "1"}, headers=h)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == ["query.a", "query.b"]


def test_without_a_token_the_answer_is_still_401(app_and_tokens):
    """The token is checked first: who may not call the route learns nothing about its parameters."""
    app, _, _ = app_and_tokens
    r = TestClient(app).get("/api/v1/dead-letters", params={"device": "x"})
    assert r.status_code == 401


def _value(schema: dict) -> str:
    """A value of the parameter's type (validity does not matter here: only that the name is known)."""
    schema = next((s for s in schema.get("anyOf", []) if s.get("type") != "null"), schema)
    if "default" in schema and schema["default"] is not None:
        v = schema["default"]
        return str(v).lower() if isinstance(v, bool) else str(v)
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("type") == "array":
        return _value(schema.get("items", {}))
    return {"integer": "10", "number": "10", "boolean": "true"}.get(schema.get("type", "string"), "x")


def test_every_declared_parameter_is_still_accepted(admin):
    client, h, world = admin
    schema = client.get("/api/v1/openapi.json").json()
    checked = 0
    for path, ops in schema["paths"].items():
        if not path.startswith(API_PREFIX):
            continue
        url = path.replace("{device_id}", world.failing).replace("{number}", world.ticket)
        url = url.replace("{discipline}", "D2").replace("{name}", "t-viewer")
        for method, op in ops.items():
            query = {p["name"]: _value(p.get("schema", {})) for p in op.get("parameters", []) if p["in"] == "query"}
            if not query:
                continue
            if path.endswith("/events"):
                query.update(timeout_s="0.2", max_events="1")
            r = client.request(method.upper(), url.replace("{", "").replace("}", ""), params=query, headers=h)
            assert "unknown query parameter" not in r.text, (method, path, query, r.text)
            checked += len(query)
    assert checked >= 40  # every list's filters, the series and spectrum options, the event stream's


def test_what_the_dashboard_sends_is_accepted(admin):
    """The exact query strings of api/static/js (fleet, alerts, tickets, unit, reports, complaints, live updates)."""
    import time

    client, h, world = admin
    d = world.failing
    end = int(time.time() * 1000)
    for url in [
        "/units/summary?customer=ACME&site=Bremen&model=P-200",
        "/units?customer=ACME&health=alarm&sort=ttf&limit=100&offset=0",
        "/alerts?status=open&acknowledged=false&limit=200",
        "/tickets?open=true&limit=200", "/tickets?open=false&limit=50",
        f"/tickets?device_id={d}&limit=50",
        f"/units/{d}/series?measurement=vibration&start_ms={end - 7 * 86_400_000}&end_ms={end}&points=400",
        f"/units/{d}/spectrum?envelope_max_hz=500",
        "/reports/pareto?days=90", "/reports/top?days=90&by=customer&n=5",
        "/complaints?limit=20&offset=0",
        "/events?heartbeat_s=15&timeout_s=0.2",  # common.js live(); timeout_s only so the test ends
    ]:
        r = client.get(API_PREFIX + url, headers=h)
        assert r.status_code == 200, (url, r.text)


@pytest.mark.parametrize("url, name", [
    ("/tickets?limit=2&limit=3", "limit"),  # answered with 3 tickets per page, the last value
    ("/tickets?status=received&status=closed&limit=5", "status"),
    ("/dead-letters?device_id=P-0001&device_id=P-0002", "device_id"),
    ("/reports/monthly?month=2026-11&month=2026-12", "month"),
    ("/events?timeout_s=0.2&timeout_s=5", "timeout_s"),
])
def test_a_parameter_that_takes_one_value_given_twice_is_refused_by_name(admin, url, name):
    client, h, _ = admin
    r = client.get(API_PREFIX + url, headers=h)
    assert r.status_code == 422, (url, r.text)
    assert r.json()["errors"] == [{"loc": f"query.{name}", "msg": f"query parameter '{name}' given 2 times; "
                                                                  "it takes one value"}]


def test_list_parameters_may_still_be_repeated(admin):
    client, h, world = admin
    r = client.get(API_PREFIX + "/events?kinds=alert&kinds=ticket&timeout_s=0.2", headers=h)
    assert r.status_code == 200, r.text
    r = client.get(API_PREFIX + f"/units/{world.failing}/series?measurement=telemetry&fields=rms_g&fields=kurtosis",
                   headers=h)
    assert r.status_code == 200, r.text
    r = client.get(API_PREFIX + "/tickets?limit=2&limit=3&devce=x", headers=h)  # both kinds of mistake, each named
    assert [e["loc"] for e in r.json()["errors"]] == ["query.devce", "query.limit"]


@pytest.mark.parametrize("url, name", [
    ("/reports/pareto", "days"), ("/reports/top", "days"), ("/events", "timeout_s"), ("/events", "heartbeat_s"),
    ("/units/P-0001/spectrum", "envelope_max_hz"),
])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_number_that_is_not_finite_is_refused_as_such(admin, url, name, value):
    """`?days=nan` answered `Input should be less than or equal to 3650`, a limit nan does not break."""
    client, h, _ = admin
    r = client.get(API_PREFIX + url, params={name: value}, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": f"query.{name}", "msg": "Input should be a finite number"}]
