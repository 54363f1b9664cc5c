"""Units and models through the registry: list with health, filters, closest to failure, CRUD, CSV import."""

from __future__ import annotations

from tests.api.conftest import auth


def test_fleet_list_with_health_and_filters(client, tokens, world):
    h = auth(tokens["viewer"])
    body = client.get("/api/v1/units", headers=h).json()
    assert body["count"] == 3
    by_id = {u["device_id"]: u for u in body["data"]}
    assert by_id["P-0001"]["health"]["state"] == "alarm"
    assert by_id["P-0001"]["health"]["ttf_s"] == 5 * 86400
    assert by_id["P-0001"]["model"] == "P-200"
    assert by_id["P-0002"]["health"]["state"] == "healthy"

    closest = client.get("/api/v1/units", params={"sort": "ttf", "limit": 1}, headers=h).json()
    assert closest["count"] == 3 and [u["device_id"] for u in closest["data"]] == ["P-0001"]
    assert client.get("/api/v1/units", params={"customer": "Globex"}, headers=h).json()["count"] == 1
    assert client.get("/api/v1/units", params={"health": "alarm"}, headers=h).json()["data"][0]["device_id"] == "P-0001"
    assert client.get("/api/v1/devices", params={"site": "Bremen"}, headers=h).json()["count"] == 2
    page2 = client.get("/api/v1/units", params={"limit": 2, "offset": 2}, headers=h).json()
    assert page2["count"] == 3 and len(page2["data"]) == 1
    assert client.get("/api/v1/units/summary", headers=h).json() == {
        "unknown": 0, "healthy": 1, "watch": 1, "warning": 0, "alarm": 1}


def test_unit_detail_and_errors(client, tokens, world):
    h = auth(tokens["viewer"])
    detail = client.get("/api/v1/units/P-0001", headers=h).json()
    assert detail["customer"] == "ACME" and detail["zone_limits_mm_s"] == [1.4, 2.8, 4.5]
    r = client.get("/api/v1/units/NOPE", headers=h)
    assert r.status_code == 404 and "NOPE" in r.json()["detail"]
    r = client.get("/api/v1/units", params={"health": "dying"}, headers=h)
    assert r.status_code == 422 and "health" in r.json()["detail"]


def test_admin_creates_changes_and_decommissions_units(client, tokens, world):
    a = auth(tokens["admin"])
    r = client.post("/api/v1/units", json={"device_id": "P-0100", "model": "P-200", "customer": "Initech"}, headers=a)
    assert r.status_code == 201, r.text
    assert r.json()["model"] == "P-200"
    r = client.post("/api/v1/units", json={"device_id": "P-0100"}, headers=a)
    assert r.status_code == 409 and "already registered" in r.json()["detail"]
    r = client.post("/api/v1/units", json={"device_id": "bad id!"}, headers=a)
    assert r.status_code == 400 and "not a valid serial number" in r.json()["detail"]
    r = client.post("/api/v1/units", json={"device_id": "P-0101", "model": "NO-SUCH"}, headers=a)
    assert r.status_code in (400, 404) and "NO-SUCH" in r.json()["detail"]
    r = client.patch("/api/v1/units/P-0100", json={"site": "Turin"}, headers=a)
    assert r.status_code == 200 and r.json()["site"] == "Turin" and r.json()["customer"] == "Initech"
    r = client.delete("/api/v1/units/P-0100", headers=a)
    assert r.status_code == 200 and r.json()["decommissioned"] is True
    r = client.post("/api/v1/units", json={"device_id": "P-0102"}, headers=auth(tokens["engineer"]))
    assert r.status_code == 403


def test_csv_import_and_export(client, tokens, world):
    a = auth(tokens["admin"])
    exported = client.get("/api/v1/units/export.csv", headers=auth(tokens["viewer"])).text
    header = exported.splitlines()[0]
    assert "device_id" in header and "P-0001" in exported
    cols = header.split(",")
    row = {c: "" for c in cols}
    row.update({"device_id": "P-0200", "model": "P-200", "customer": "Umbrella"})
    csv_text = header + "\n" + ",".join(row[c] for c in cols) + "\n"
    r = client.post("/api/v1/units/import", content=csv_text, headers={**a, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 1, "updated": 0}
    assert client.get("/api/v1/units/P-0200", headers=a).json()["customer"] == "Umbrella"
    bad = header + "\n" + ",".join("x" if c == "install_date" else row[c] for c in cols) + "\n"
    r = client.post("/api/v1/units/import", content=bad, headers={**a, "Content-Type": "text/csv"})
    assert r.status_code == 400 and "install_date" in r.json()["detail"]
    r = client.post("/api/v1/units/import", content=b"\x00\x01\xff\xfe binary", headers={**a, "Content-Type": "text/csv"})
    assert r.status_code == 400 and r.json()["detail"] == ("body: not UTF-8 text (byte 0xff at position 2); "
                                                           "send the CSV saved as UTF-8 text")
    bom = "\ufeff" + header + "\n" + ",".join(row[c] for c in cols).replace("P-0200", "P-0201") + "\n"
    r = client.post("/api/v1/units/import", content=bom.encode(), headers={**a, "Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json() == {"created": 1, "updated": 0}  # a spreadsheet's UTF-8 with BOM


def test_models_and_detector_config(client, tokens, world):
    v, e = auth(tokens["viewer"]), auth(tokens["engineer"])
    m = client.get("/api/v1/models/P-200", headers=v).json()
    assert m["rated_rpm"] == 1480 and round(m["defect_multipliers"]["bpfo"], 2) == 3.58
    assert client.get("/api/v1/models", headers=v).json()["count"] == 1
    r = client.put("/api/v1/models/P-200/detector-config", json={"config": {"warmup": 50}}, headers=e)
    assert r.status_code == 200 and r.json() == {"config": {"warmup": 50}}
    assert client.get("/api/v1/models/P-200/detector-config", headers=v).json()["config"] == {"warmup": 50}
    r = client.put("/api/v1/models/P-200/detector-config", json={"config": {"speed_tolerance": 5}}, headers=e)
    assert r.status_code == 400 and "speed_tolerance must be in (0, 1)" in r.json()["detail"]
    assert client.get("/api/v1/models/P-200/detector-config", headers=v).json()["config"] == {"warmup": 50}
    r = client.put("/api/v1/models/P-200/detector-config", json={"config": {}}, headers=auth(tokens["service"]))
    assert r.status_code == 403
    r = client.post("/api/v1/models", json={"name": "F-9", "bearing": {"n_balls": 2, "ball_d": 1, "pitch_d": 5}},
                    headers=auth(tokens["admin"]))
    assert r.status_code == 422 and "n_balls" in r.json()["detail"]
    r = client.post("/api/v1/models", json={"name": "F-9", "rated_rpm": 2950}, headers=auth(tokens["admin"]))
    assert r.status_code == 201 and r.json()["name"] == "F-9"
    assert client.get("/api/v1/models/NOPE", headers=v).status_code == 404


def test_admin_provisions_and_revokes_broker_credentials(client, ctx, tokens, world):
    a = auth(tokens["admin"])
    r = client.post("/api/v1/units/P-0002/credentials", headers=a)
    assert r.status_code == 200, r.text
    password = r.json()["password"]
    assert r.json()["username"] == "P-0002" and len(password) >= 16
    assert ctx.registry.check_password("P-0002", password)
    assert client.post("/api/v1/units/P-0002/credentials", headers=auth(tokens["engineer"])).status_code == 403
    assert client.delete("/api/v1/units/P-0002/credentials", headers=a).json() == {"device_id": "P-0002", "revoked": True}
    assert not ctx.registry.check_password("P-0002", password)
    assert client.post("/api/v1/units/NOPE/credentials", headers=a).status_code == 404


def test_fleet_health_for_more_units_than_bind_parameters(ctx):
    import json

    from api.health_view import latest_health
    from foreshock.models import DetectorState

    with ctx.session_factory() as s:
        for i in range(700):
            s.add(DetectorState(device_id=f"U-{i:04d}", state_json="{}", health="watch" if i % 7 else "alarm",
                                assessment_json=json.dumps({"state": "watch", "ttf_s": float(i)})))
        s.commit()
        ids = [f"U-{i:04d}" for i in range(0, 700, 2)] + ["NOT-THERE"]
        assert len(ids) == 351
        got = latest_health(s, ids[:300])
        assert len(got) == 300 and got["U-0000"]["state"] == "alarm" and got["U-0002"]["ttf_s"] == 2.0
        many = latest_health(s, [f"U-{i:04d}" for i in range(650)])
        assert len(many) == 650 and "U-0699" not in many
        assert latest_health(s, []) == {}


def test_every_page_filter_and_order_of_a_larger_fleet(client, ctx, tokens):
    """The list reads only the page in full; what it returns is what sorting the whole fleet gives:
    checked against that, for every order, a health filter, a model filter and several pages, with
    units that have no saved state, states without a time to failure and ties on it."""
    import json
    import math

    from foreshock.models import DetectorState

    ctx.registry.create_model("M-A", rated_rpm=1500.0)
    ctx.registry.create_model("M-B", rated_rpm=3000.0)
    states = ("healthy", "watch", "warning", "alarm")
    truth = {}
    with ctx.session_factory() as s:
        for i in range(620):
            d = f"Q-{(i * 7919) % 620:04d}"  # created out of order
            ctx.registry.create_unit(d, model="M-A" if i % 3 else "M-B", customer="ACME")
            if i % 10 == 9:
                truth[d] = ("unknown", None)  # never assessed
                continue
            state = states[i % 4]
            ttf = float(3600 * (i % 13)) if state != "healthy" and i % 5 else None
            a = {"state": state, "reasons": [], **({"ttf_s": ttf} if ttf is not None else {})}
            s.add(DetectorState(device_id=d, state_json="{}", health=state, assessment_json=json.dumps(a)))
            truth[d] = (state, ttf)
        s.commit()
    order = {s: i for i, s in enumerate(("unknown", *states))}
    keys = {
        "device_id": lambda d: d,
        "health": lambda d: (-order[truth[d][0]], d),
        # a time to failure of 0 (the alarm limit reached) is the closest, not as far as no estimate
        "ttf": lambda d: (truth[d][1] is None, truth[d][1] if truth[d][1] is not None else math.inf,
                          -order[truth[d][0]], d),
    }
    models = {d: ctx.registry.get_unit(d).model_name for d in truth}
    h = auth(tokens["viewer"])
    for sort, key in keys.items():
        for health in (None, "warning", "unknown"):
            for model in (None, "M-B"):
                want = sorted((d for d in truth if (health is None or truth[d][0] == health)
                               and (model is None or models[d] == model)), key=key)
                for offset, limit in ((0, 50), (100, 7), (len(want) - 3, 50), (len(want) + 5, 10)):
                    params = {"sort": sort, "offset": max(offset, 0), "limit": limit,
                              **({"health": health} if health else {}), **({"model": model} if model else {})}
                    body = client.get("/api/v1/units", params=params, headers=h).json()
                    assert body["count"] == len(want), params
                    got = [u["device_id"] for u in body["data"]]
                    assert got == want[max(offset, 0): max(offset, 0) + limit], params
                    for u in body["data"]:
                        assert u["health"]["state"] == truth[u["device_id"]][0]
                        assert u["health"].get("ttf_s") == truth[u["device_id"]][1]
    summary = client.get("/api/v1/units/summary", params={"model": "M-A"}, headers=h).json()
    assert summary == {s: sum(1 for d in truth if truth[d][0] == s and models[d] == "M-A")
                       for s in ("unknown", *states)}


def test_a_unit_the_broker_cut_off_without_its_will_is_shown_silent_not_just_online(client, tokens, world, ctx):
    """A unit cut off at a broker reload (no last will) stayed "online" for ever in the fleet list and
    the unit detail, while the deadman already counted it silent."""
    from devices.protocol import now_ms

    reg = ctx.registry
    reg.create_model("F-60", rated_rpm=1800, reporting_interval_s=60)
    reg.create_unit("F-0001", model="F-60", customer="ACME")
    reg.create_unit("F-0002", model="F-60", customer="ACME")
    hour_ago, now = now_ms() - 3_600_000, now_ms()
    for unit, seen in (("F-0001", hour_ago), ("F-0002", now)):
        reg.record_status(unit, "online", seen)
        reg.mark_seen(unit, seen)
    h = auth(tokens["viewer"])
    listed = {u["device_id"]: u for u in client.get("/api/v1/units", params={"model": "F-60"}, headers=h).json()["data"]}
    cut, fine = listed["F-0001"], listed["F-0002"]
    assert (cut["presence"], cut["silent"]) == ("online", True)
    assert 3_500 < cut["silent_for_s"] < 3_700
    assert (fine["presence"], fine["silent"], fine["silent_for_s"]) == ("online", False, None)
    detail = client.get("/api/v1/units/F-0001", headers=h).json()
    assert detail["silent"] is True and 3_500 < detail["silent_for_s"] < 3_700
    assert client.get("/api/v1/units/F-0002", headers=h).json()["silent"] is False
