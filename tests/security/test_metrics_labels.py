"""A client without a token cannot grow ``/metrics``: each made-up HTTP method (``FOO1``, ``FOO2``, ...)
was a new ``foreshock_api_requests_total`` series, without bound, in memory and in every scrape."""

from __future__ import annotations

import pytest

from tests.api.conftest import client, ctx  # noqa: F401 - fixtures

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_made_up_methods_are_counted_as_one_series(client):  # noqa: F811
    for i in range(50):
        assert client.request(f"FOO{i}", "/healthz").status_code == 405
        client.request(f"BAR{i}", "/api/v1/units")
    client.get("/healthz")
    lines = [ln for ln in client.get("/metrics").text.splitlines() if ln.startswith("foreshock_api_requests_total")]
    assert not [ln for ln in lines if "FOO" in ln or "BAR" in ln]
    assert 'foreshock_api_requests_total{method="other",route="/healthz",status="4xx"} 50' in lines
    assert 'foreshock_api_requests_total{method="GET",route="/healthz",status="2xx"} 1' in lines
    assert len(lines) <= 6, lines
