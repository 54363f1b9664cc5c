"""A unit's serial in the API in any letter case: ``p-0001`` typed by a service technician, or in an ERP's
link, is unit P-0001. Every route that names a unit answers for the registered unit, with the serial as
registered (its broker username and topics use that spelling); the list filters by unit find its rows.

Before, each of these answered 404 "no unit 'p-0001' is registered (its serial is registered as
'P-0001': give it as registered)", or an empty list, or stored a maintenance window under the typed
spelling, which suppressed nothing. The first test runs on SQLite and on PostgreSQL (``ctx``).
"""

from __future__ import annotations

from tests.api.conftest import auth


def test_unit_routes_answer_for_the_unit_whose_serial_is_typed_in_another_letter_case(client, tokens, world, ctx):
    v, a = auth(tokens["viewer"]), auth(tokens["admin"])
    detail = client.get("/api/v1/units/p-0001", headers=v)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["device_id"] == "P-0001" and body["health"]["state"] == "alarm"
    assert body["zone_limits_mm_s"] == [1.4, 2.8, 4.5] and body["detector_thresholds"]["factor"] == 1

    series = client.get("/api/v1/units/p-0001/series", params={"fields": "velocity_rms_mm_s"}, headers=v)
    assert series.status_code == 200, series.text
    assert series.json()["device_id"] == "P-0001" and len(series.json()["ts_ms"]) > 10
    spectrum = client.get("/api/v1/units/p-0001/spectrum", headers=v)
    assert spectrum.status_code == 200, spectrum.text
    assert spectrum.json()["device_id"] == "P-0001"

    changed = client.patch("/api/v1/units/p-0002", json={"site": "Turin"}, headers=a)
    assert changed.status_code == 200, changed.text
    assert changed.json()["device_id"] == "P-0002" and changed.json()["site"] == "Turin"

    cred = client.post("/api/v1/units/p-0003/credentials", headers=a)
    assert cred.status_code == 200, cred.text
    # the broker compares usernames exactly: the unit logs in as registered
    assert cred.json()["device_id"] == "P-0003" and cred.json()["username"] == "P-0003"
    assert ctx.registry.check_password("P-0003", cred.json()["password"])
    revoked = client.delete("/api/v1/units/p-0003/credentials", headers=a)
    assert revoked.json() == {"device_id": "P-0003", "revoked": True}
    out = client.delete("/api/v1/units/p-0003", headers=a)
    assert out.status_code == 200 and out.json()["device_id"] == "P-0003" and out.json()["decommissioned"]
    back = client.post("/api/v1/units/p-0003/recommission", headers=a)
    assert back.status_code == 200 and back.json()["device_id"] == "P-0003" and not back.json()["decommissioned"]

    missing = client.get("/api/v1/units/p-0404", headers=v)
    assert missing.status_code == 404 and missing.json()["detail"] == "no unit 'p-0404' is registered"
    assert client.get("/api/v1/units/p-0404/series", headers=v).status_code == 404


def test_list_filters_by_unit_and_maintenance_windows_take_the_serial_in_any_letter_case(client, tokens, world):
    v, s = auth(tokens["viewer"]), auth(tokens["service"])
    alerts = client.get("/api/v1/alerts", params={"device_id": "p-0001"}, headers=v).json()
    assert alerts["count"] == 1 and alerts["data"][0]["device_id"] == "P-0001"
    tickets = client.get("/api/v1/tickets", params={"device_id": "p-0001"}, headers=v).json()
    assert tickets["count"] == 1 and tickets["data"][0]["number"] == world.ticket
    # a serial nobody registered filters as given: an empty list, not an error
    assert client.get("/api/v1/alerts", params={"device_id": "p-0404"}, headers=v).json()["count"] == 0

    window = {"device_id": "p-0002", "starts_at": "2026-11-22T06:00:00Z", "ends_at": "2026-11-22T08:00:00Z"}
    made = client.post("/api/v1/maintenance", json=window, headers=s)
    assert made.status_code == 201, made.text
    assert made.json()["device_id"] == "P-0002"  # stored as registered: the alert service matches it exactly
    listed = client.get("/api/v1/maintenance", params={"device_id": "p-0002"}, headers=v).json()
    assert listed["count"] == 1 and listed["data"][0]["device_id"] == "P-0002"
    with_site = client.post("/api/v1/maintenance", json={**window, "site": "Lyon"}, headers=s)
    assert with_site.status_code == 400 and "unit 'P-0002' is at site 'Bremen'" in with_site.json()["detail"]
    unknown = client.post("/api/v1/maintenance", json={**window, "device_id": "p-0404"}, headers=s)
    assert unknown.status_code == 404 and "no unit 'p-0404' is registered" in unknown.json()["detail"]

    complaint = {"customer": "ACME", "contact": {"email": "ann@acme.example"}, "device_id": "p-0002",
                 "description": "loud grinding noise", "occurred_at": "2026-11-20T08:00:00Z", "request": "repair"}
    assert client.post("/api/v1/complaints", json=complaint, headers=s).status_code == 201
    complaints = client.get("/api/v1/complaints", params={"device_id": "p-0002"}, headers=v).json()
    assert complaints["count"] == 1 and complaints["data"][0]["device_id"] == "P-0002"


def test_a_serial_that_matches_several_spellings_asks_for_the_registered_one(client, tokens, ctx):
    """Only a database from before serials were compared regardless of case holds such units (here a
    decommissioned twin, which the upgrade lets stay): a 400 naming them, not a guess."""
    from sqlalchemy import insert

    from devices.models import Unit
    from foreshock.db import utcnow

    ctx.registry.create_unit("AB-1")
    with ctx.session_factory() as s:
        s.execute(insert(Unit).values(device_id="ab-1", decommissioned_at=utcnow(), tags=[], auto_registered=False,
                                      presence="unknown", presence_by_will=False, created_at=utcnow(),
                                      updated_at=utcnow()))
        s.commit()
    v = auth(tokens["viewer"])
    for path, params in (("/api/v1/units/Ab-1", None), ("/api/v1/alerts", {"device_id": "Ab-1"})):
        r = client.get(path, params=params, headers=v)
        assert r.status_code == 400 and "'Ab-1' matches units 'AB-1', 'ab-1'" in r.json()["detail"], r.text
    assert client.get("/api/v1/units/ab-1", headers=v).json()["device_id"] == "ab-1"  # as registered: exact


def test_a_maintenance_site_typed_in_another_letter_case_is_refused_naming_the_registered_one(client, tokens, world,
                                                                                              ctx):
    """A site name in another letter case got a 404 that named only the site typed: the reader could not see that
    'bremen' missed 'Bremen' by its letter case. The 404 names the registered site, or says there is none."""
    s = auth(tokens["service"])
    ctx.registry.create_unit("P-0009", model="P-200", customer="Globex", site="Plant-A")
    ctx.registry.create_unit("P-0010", model="P-200", customer="Globex", site="PLANT-A")
    window = {"starts_at": "2026-11-22T06:00:00Z", "ends_at": "2026-11-22T08:00:00Z"}
    typed = client.post("/api/v1/maintenance", json={**window, "site": "bremen"}, headers=s)
    assert typed.status_code == 404
    assert typed.json()["detail"] == ("no site 'bremen'; did you mean 'Bremen'? (no registered unit is at site "
                                      "'bremen': the maintenance window would suppress nothing)")
    two = client.post("/api/v1/maintenance", json={**window, "site": "plant-a"}, headers=s)
    assert two.status_code == 404 and "no site 'plant-a'; did you mean 'PLANT-A' or 'Plant-A'?" in two.json()["detail"]
    none = client.post("/api/v1/maintenance", json={**window, "site": "Hamburg"}, headers=s)
    assert none.status_code == 404
    assert none.json()["detail"] == ("no site 'Hamburg'; no registered site has that name in another letter case "
                                     "(no registered unit is at site 'Hamburg': the maintenance window would "
                                     "suppress nothing)")
    assert client.post("/api/v1/maintenance", json={**window, "site": "Bremen"}, headers=s).status_code == 201
