"""Secrets stay out of what needs no token: /readyz named the telemetry store's URL as configured, with
the password an operator may write into it (http://user:password@host), to anyone who asked."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from api.app import create_app
from api.testing import memory_context
from foreshock.broker import free_port
from foreshock.tsdb.influx1 import Influx1Store
from foreshock.tsdb.retry import Retry


def test_readyz_names_the_failing_store_without_its_password(caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()  # nothing listens there
    store = Influx1Store(f"http://writer:S3cret-pw@127.0.0.1:{port}", "telemetry", retry=Retry(max_retries=0))
    try:
        with TestClient(create_app(memory_context(store=store))) as client:
            r = client.get("/readyz")
    finally:
        store.close()
    assert r.status_code == 503
    check = r.json()["checks"]["telemetry_store"]
    assert f"cannot reach http://writer:***@127.0.0.1:{port}" in check, check  # still says what and where
    assert "S3cret-pw" not in r.text and "S3cret-pw" not in caplog.text
