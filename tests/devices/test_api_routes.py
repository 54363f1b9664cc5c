"""The registry through the REST API as a fleet administrator uses it: a model whose name holds a
"/", a decommissioned unit put back in service, the CSV of decommissioned units."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.testing import context_for
from api.tokens import create_token
from devices.registry import Registry


@pytest.fixture
def api(tmp_path):
    ctx = context_for(f"sqlite:///{tmp_path / 'api.db'}")
    ctx.registry = Registry(ctx.session_factory)
    with ctx.session_factory() as session:
        _, admin = create_token(session=session, name="admin", role="admin")
        session.commit()
    with TestClient(create_app(ctx)) as client:
        client.headers["Authorization"] = f"Bearer {admin}"
        yield client, ctx
    ctx.session_factory.kw["bind"].dispose()


def test_a_model_whose_name_holds_a_slash_can_be_read_and_changed(api):
    client, ctx = api
    body = {"name": "FAN 6305/60Hz", "rated_rpm": 3550, "bearing": {"n_balls": 8, "ball_d": 11.5, "pitch_d": 44.5}}
    assert client.post("/api/v1/models", json=body).status_code == 201
    # before: 404 "no such resource" for every one of these (the "/" ended the route's name)
    got = client.get("/api/v1/models/FAN 6305/60Hz")
    assert got.status_code == 200 and got.json()["bearing"]["n_balls"] == 8
    changed = client.patch("/api/v1/models/FAN%206305%2F60Hz", json={"rated_rpm": 3500})
    assert changed.status_code == 200 and changed.json()["rated_rpm"] == 3500
    assert ctx.registry.get_model("FAN 6305/60Hz").rated_rpm == 3500
    put = client.put("/api/v1/models/FAN 6305/60Hz/detector-config", json={"config": {"warmup": 40}})
    assert put.status_code == 200, put.text
    assert client.get("/api/v1/models/FAN 6305/60Hz/detector-config").json() == {"config": {"warmup": 40}}
    assert ctx.registry.get_model("FAN 6305/60Hz").detector_config == {"warmup": 40}
    # a name without a slash as before, and an unknown one named
    assert client.post("/api/v1/models", json={"name": "P-200"}).status_code == 201
    assert client.get("/api/v1/models/P-200/detector-config").json() == {"config": {}}
    missing = client.get("/api/v1/models/FAN 6305/50Hz")
    assert missing.status_code == 404 and "no machine model named 'FAN 6305/50Hz'" in missing.text


def test_a_decommissioned_unit_is_put_back_in_service_through_the_api(api):
    client, ctx = api
    assert client.post("/api/v1/units", json={"device_id": "P-0001", "customer": "ACME"}).status_code == 201
    assert client.post("/api/v1/units/P-0001/credentials").status_code == 200
    assert client.delete("/api/v1/units/P-0001").json()["decommissioned"] is True
    # its row in a CSV without decommissioned_at is refused, not applied to the unit out of service
    refused = client.post("/api/v1/units/import", content=b"device_id,customer\nP-0001,Beta\n",
                          headers={"Content-Type": "text/csv"})
    assert refused.status_code == 400 and "was decommissioned on" in refused.text
    back = client.post("/api/v1/units/P-0001/recommission")
    assert back.status_code == 200, back.text
    assert back.json()["decommissioned"] is False and back.json()["presence"] == "unknown"
    assert ctx.registry.is_known("P-0001") and not ctx.registry.get_unit("P-0001").provisioned
    assert client.post("/api/v1/units/P-0404/recommission").status_code == 404
