"""influx1 authentication and the requests it sends (recorded server: no auth-enabled influxd here)."""

from __future__ import annotations

import base64

import pytest

from foreshock.settings import load_settings
from foreshock.tsdb.base import Point
from foreshock.tsdb.influx1 import Influx1Store
from foreshock.tsdb.retry import Retry

T0 = 1_700_000_000_000


def test_user_and_password_go_as_basic_auth_not_in_the_url(recorded):
    """In the URL (u=, p=) the password reached the HTTP client's debug log and any proxy's access log."""
    server = recorded(204, b"", content_type="text/plain")
    settings = load_settings(telemetry={"backend": "influx1", "url": server.url, "database": "plant",
                                        "username": "ingest", "password": "s3cret", "retention_policy": "week"})
    store = Influx1Store.from_settings(settings.telemetry)
    store.write([Point("telemetry", {"device": "P-1"}, {"t": 1.5}, T0)])
    req = server.requests[0]
    assert req["path"] == "/write" and req["auth"] == "Basic " + base64.b64encode(b"ingest:s3cret").decode()
    assert {k: v[0] for k, v in req["query"].items()} == {"db": "plant", "precision": "ms", "rp": "week"}
    assert req["body"] == b"telemetry,device=P-1 t=1.5 1700000000000"
    store.close()


def test_token_goes_in_the_authorization_header(recorded):
    server = recorded(200, b'{"results":[{"statement_id":0}]}', content_type="application/json")
    store = Influx1Store(server.url, "plant", token="tok", retry=Retry(max_retries=0))
    assert store.query("telemetry", "P-'1", T0, T0 + 1000, ["t"], every_ms=500) == []
    req = server.requests[0]
    assert req["auth"] == "Token tok" and "u" not in req["query"]
    q = req["query"]["q"][0]
    assert q == ('SELECT mean("t") AS "t" FROM "telemetry" WHERE "device"::tag = \'P-\\\'1\' AND time >= 1700000000000ms '
                 'AND time < 1700000001000ms GROUP BY time(500ms) fill(none) ORDER BY time ASC LIMIT 10000')
    store.close()


def test_a_write_refused_as_forbidden_is_access_denied_and_not_retried(recorded):
    from foreshock.tsdb.base import StoreAccessDenied

    server = recorded(403, b'{"error":"user \\"ingest\\" is not authorized to write to database \\"plant\\""}',
                      content_type="application/json")
    store = Influx1Store(server.url, "plant", username="ingest", password="pw", retry=Retry(max_retries=3))
    try:
        store.write([Point("telemetry", {"device": "P-1"}, {"t": 1.5}, T0)])
    except StoreAccessDenied as exc:
        assert "HTTP 403" in str(exc)
    else:
        raise AssertionError("a 403 was taken as written")
    assert len(server.requests) == 1
    store.close()


@pytest.mark.parametrize("backend", ["influx1", "influx2"])
def test_an_unreachable_store_is_named_without_the_password_in_its_url(backend):
    from foreshock.broker import free_port
    from foreshock.tsdb import open_store
    from foreshock.tsdb.base import StoreUnavailable

    url = f"http://writer:S3CRET-PW@127.0.0.1:{free_port()}"  # nothing listens there
    settings = load_settings(telemetry={"backend": backend, "url": url, "database": "plant", "bucket": "b",
                                        "org": "o", "token": "t", "max_retries": 0})
    store = open_store(settings)
    try:
        with pytest.raises(StoreUnavailable) as info:
            store.write([Point("telemetry", {"device": "P-1"}, {"t": 1.5}, T0)])
    finally:
        store.close()
    assert "cannot reach http://writer:***@127.0.0.1" in str(info.value) and "S3CRET" not in str(info.value)

