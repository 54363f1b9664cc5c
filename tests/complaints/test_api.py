"""The complaint loop through the REST API: form/API, signed webhook and raw email in, linked to the
unit's open warning and telemetry, customer mail through a local SMTP server, a "not solved"
follow-up reopening the ticket; corrective actions recorded and verified by engineers."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from alerts.config import AlertConfig, SmtpConfig
from alerts.notify import sign
from tests.api.conftest import auth, client, ctx, tokens  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


@pytest.fixture
def world(ctx, smtp):  # noqa: F811
    from tests.api.scenario import seed

    ctx.alerts.config = AlertConfig(smtp=SmtpConfig(port=smtp.port, sender="quality@foreshock.example"),
                                    complaint_webhook_secret="crm-secret")
    return seed(ctx)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def body(**kw) -> dict:
    return {"customer": "ACME", "contact": {"name": "Ann Lee", "email": "ann@acme.example"}, "device_id": "P-0001",
            "description": "The pump at line 3 grinds and got hot", "occurred_at": iso(time.time() - 30),
            "request": "repair", "channel": "phone", **kw}


def test_complaint_through_the_api_joins_the_warning_and_carries_telemetry(client, tokens, world, smtp):  # noqa: F811
    svc = auth(tokens["service"])
    r = client.post("/api/v1/complaints", json=body(), headers=svc)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["ticket"] == world.ticket and out["joined"] is True
    assert out["preceded_by_warning"] is True and out["warning_lead_s"] > 0
    ev = out["evidence"]
    assert ev["alerts"][0]["failure_mode"] == "outer_race"
    assert ev["health"]["state"] == "alarm"
    assert len(ev["features"]) >= 20 and "kurtosis" in ev["features"][-1]  # hourly telemetry of the last day
    assert smtp.wait_for(1) and world.ticket in smtp.messages[0][1]["Subject"]
    listed = client.get("/api/v1/complaints", params={"ticket": world.ticket}, headers=auth(tokens["viewer"])).json()
    assert listed["count"] == 1
    # the viewer may read, not register
    r = client.post("/api/v1/complaints", json=body(), headers=auth(tokens["viewer"]))
    assert r.status_code == 403 and "needs the service role" in r.json()["detail"]


def test_bad_complaints_are_refused_naming_the_field(client, tokens, world):  # noqa: F811
    svc = auth(tokens["service"])
    r = client.post("/api/v1/complaints", json=body(device_id=None, request="money back"), headers=svc)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "request" in detail and "'repair', 'replacement', 'refund' or 'advice'" in detail
    r = client.post("/api/v1/complaints", json=body(contact={"name": "Ann"}), headers=svc)
    assert r.status_code == 422 and "email address or a phone number" in r.json()["detail"]
    r = client.post("/api/v1/complaints", json=body(device_id="NOPE-1"), headers=svc)
    assert r.status_code == 400 and "unit 'NOPE-1' is not registered" in r.json()["detail"]


def test_a_complaint_without_its_unit_names_the_unit_not_the_request_field(client, tokens, world):  # noqa: F811
    """Only the unit missing (a model without its site) said `request: give the unit serial ...`, naming
    the complaint's `request` field (repair, refund, ...), which was given and right."""
    svc = auth(tokens["service"])
    r = client.post("/api/v1/complaints", json=body(device_id=None, model="P-200"), headers=svc)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": "unit", "msg": "give the unit serial (device_id), or the model and site "
                                                        "when the serial is unknown"}]
    assert r.json()["detail"].startswith("invalid request: unit: give the unit serial")
    assert client.get("/api/v1/complaints", headers=svc).json()["count"] == 0


def test_a_complaint_without_serial_or_customer_is_refused_with_every_problem_at_once(client, tokens, world):  # noqa: F811
    """docs/complaints.md: "refused with every problem at once". Without the serial the customer is required, but
    that came alone as a 400 after the other problems were fixed: two round trips for one form."""
    svc = auth(tokens["service"])
    r = client.post("/api/v1/complaints", json=body(device_id=None, customer=None, model="P-200", site="Bremen",
                                                    request=None), headers=svc)
    assert r.status_code == 422, r.text
    assert {e["loc"] for e in r.json()["errors"]} == {"request", "customer"}, r.text
    assert "customer: required when the unit serial is not given" in r.json()["detail"]
    assert client.get("/api/v1/complaints", headers=svc).json()["count"] == 0


def test_a_bad_contact_address_is_named_in_words_not_as_a_regex(client, tokens, world):  # noqa: F811
    svc = auth(tokens["service"])
    r = client.post("/api/v1/complaints", json=body(contact={"email": "ann at acme"}), headers=svc)
    assert r.status_code == 422
    assert "contact.email: not an email address: 'ann at acme' (expected e.g. ann@acme.example)" in r.json()["detail"]
    assert "^[" not in r.json()["detail"]
    r = client.post("/api/v1/complaints", json=body(contact={"phone": "call me"}), headers=svc)
    assert r.status_code == 422 and "contact.phone: not a phone number: 'call me'" in r.json()["detail"]
    assert client.get("/api/v1/complaints", headers=svc).json()["count"] == 0
    r = client.post("/api/v1/complaints", json=body(contact={"email": " ann@acme.example "}), headers=svc)
    assert r.status_code == 201 and r.json()["contact_email"] == "ann@acme.example"


def test_signed_webhook_and_raw_email(client, tokens, world, smtp):  # noqa: F811
    svc = auth(tokens["service"])
    payload = json.dumps(body(device_id="P-0002", external_ref="crm-4711", channel="crm")).encode()
    ts = str(int(time.time()))
    headers = {**svc, "Content-Type": "application/json", "X-Foreshock-Timestamp": ts,
               "X-Foreshock-Signature": sign("crm-secret", ts, payload)}
    r = client.post("/api/v1/complaints/webhook", content=payload, headers=headers)
    assert r.status_code == 201, r.text
    hooked = r.json()
    assert hooked["channel"] == "crm" and hooked["joined"] is False and hooked["preceded_by_warning"] is False
    again = client.post("/api/v1/complaints/webhook", content=payload, headers=headers)
    assert again.json()["id"] == hooked["id"]  # a CRM retry is idempotent
    bad = client.post("/api/v1/complaints/webhook", content=payload,
                      headers={**headers, "X-Foreshock-Signature": sign("guess", ts, payload)})
    assert bad.status_code == 400 and "bad X-Foreshock-Signature" in bad.json()["detail"]
    stale = str(int(time.time()) - 3600)
    r = client.post("/api/v1/complaints/webhook", content=payload,
                    headers={**headers, "X-Foreshock-Timestamp": stale,
                             "X-Foreshock-Signature": sign("crm-secret", stale, payload)})
    assert r.status_code == 400 and "replayed" in r.json()["detail"]
    # "nan" (float() reads it; no distance exceeds it) passed the replay check with a signature over it
    for odd in ("nan", "NaN", "inf", "1e9", "-1", f"{int(ts):_}"):
        r = client.post("/api/v1/complaints/webhook", content=payload,
                        headers={**headers, "X-Foreshock-Timestamp": odd,
                                 "X-Foreshock-Signature": sign("crm-secret", odd, payload)})
        assert r.status_code == 400 and "X-Foreshock-Timestamp must be epoch seconds (digits" in r.json()["detail"], odd
    fraction = f"{time.time():.3f}"
    r = client.post("/api/v1/complaints/webhook", content=payload,
                    headers={**headers, "X-Foreshock-Timestamp": fraction,
                             "X-Foreshock-Signature": sign("crm-secret", fraction, payload)})
    assert r.status_code == 201 and r.json()["id"] == hooked["id"]
    # a signed body that claims a staff channel would subscribe its contact to the unit's ticket
    staff = json.dumps(body(device_id="P-0002", external_ref="crm-4712", channel="phone")).encode()
    r = client.post("/api/v1/complaints/webhook", content=staff,
                    headers={**headers, "X-Foreshock-Signature": sign("crm-secret", ts, staff)})
    assert r.status_code == 400 and "channel 'phone' is for complaints staff enter" in r.json()["detail"], r.text

    mail = (f"From: Bo Chen <bo@globex.example>\r\nTo: complaints@foreshock.example\r\n"
            f"Subject: Fan vibrates\r\nMessage-ID: <abc@globex>\r\nDate: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
            f"\r\nSerial: P-0003\r\nRequest: advice\r\nSince yesterday it shakes.\r\n").encode()
    r = client.post("/api/v1/complaints/email", content=mail, headers={**svc, "Content-Type": "message/rfc822"})
    assert r.status_code == 201, r.text
    mailed = r.json()
    assert mailed["customer"] == "Globex" and mailed["channel"] == "email"  # customer from the registry
    assert "Since yesterday it shakes." in mailed["description"]
    r = client.post("/api/v1/complaints/email", content=b"Subject: x\r\n\r\nno sender",
                    headers={**svc, "Content-Type": "message/rfc822"})
    assert r.status_code == 400 and "no sender address" in r.json()["detail"]
    assert smtp.wait_for(2)
    assert {tuple(rcpt) for rcpt, _ in smtp.messages} == {("ann@acme.example",), ("bo@globex.example",)}


@pytest.mark.parametrize("charset", ["unknown-8bit", "bogus-charset"])
def test_an_email_in_a_charset_python_does_not_know_is_still_taken(client, tokens, world, charset):  # noqa: F811
    """Such a mail was answered 404 'unknown encoding: unknown-8bit' (a LookupError) and the complaint lost."""
    mail = (f"From: Bo Chen <bo@globex.example>\r\nSubject: Fan vibrates\r\nMessage-ID: <{charset}@globex>\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
            f"Content-Type: text/plain; charset={charset}\r\n\r\nSerial: P-0003\r\nRequest: advice\r\n").encode() \
        + "Der L\u00fcfter brummt.\r\n".encode("cp1252")
    r = client.post("/api/v1/complaints/email", content=mail,
                    headers={**auth(tokens["service"]), "Content-Type": "message/rfc822"})
    assert r.status_code == 201, r.text
    assert r.json()["device_id"] == "P-0003" and r.json()["request"] == "advice"
    assert "Der L\u00fcfter brummt." in r.json()["description"]  # unlabelled 8-bit text read as Windows-1252


def test_messages_and_not_solved_follow_up_reopen_the_ticket(client, tokens, world, smtp):  # noqa: F811
    svc = auth(tokens["service"])
    number = client.post("/api/v1/complaints", json=body(device_id="P-0002"), headers=svc).json()["ticket"]
    r = client.post(f"/api/v1/tickets/{number}/messages", json={"kind": "progress", "text": "Parts ordered."},
                    headers=svc)
    assert r.status_code == 200 and r.json()["messages"][-1]["status"] == "sent"
    r = client.post(f"/api/v1/tickets/{number}/messages", json={"kind": "follow_up"}, headers=svc)
    assert r.status_code == 409 and "after closure" in r.json()["detail"]
    assert client.post(f"/api/v1/tickets/{number}/move", json={"to": "closed"}, headers=svc).status_code == 200
    assert client.post(f"/api/v1/tickets/{number}/messages", json={"kind": "follow_up"}, headers=svc).status_code == 200
    r = client.post(f"/api/v1/tickets/{number}/follow-up", json={"solved": False, "satisfaction": 1,
                                                                 "comment": "still broken"}, headers=svc)
    assert r.status_code == 200 and r.json()["status"] == "reopened"
    assert smtp.wait_for(3)
    assert any("Is the problem solved" in m["Subject"] for _, m in smtp.messages)
    ticket = client.get(f"/api/v1/tickets/{number}", headers=auth(tokens["viewer"])).json()
    assert ticket["source"] == "customer" and ticket["customer_followup"]["satisfaction"] == 1


def test_a_progress_message_without_text_is_a_422_and_nothing_is_sent(client, tokens, world, smtp):  # noqa: F811
    svc = auth(tokens["service"])
    number = client.post("/api/v1/complaints", json=body(), headers=svc).json()["ticket"]
    before = client.get(f"/api/v1/tickets/{number}/communication", headers=svc).json()["messages"]
    for text in (None, "  "):
        r = client.post(f"/api/v1/tickets/{number}/messages", json={"kind": "progress", "text": text}, headers=svc)
        assert r.status_code == 422 and "text: a progress message needs text" in r.json()["detail"], r.text
    assert client.get(f"/api/v1/tickets/{number}/communication", headers=svc).json()["messages"] == before


def test_corrective_actions_need_an_engineer_and_say_what_data_is_missing(client, tokens, world):  # noqa: F811
    a = {"title": "Bearing supplier change", "scope": {"batch": "B7"}, "failure_modes": ["outer_race"],
         "applied_at": iso(time.time() - 86400), "baseline_d": 30, "ticket": world.ticket}
    r = client.post("/api/v1/corrective-actions", json=a, headers=auth(tokens["service"]))
    assert r.status_code == 403 and "needs the engineer role" in r.json()["detail"]
    r = client.post("/api/v1/corrective-actions", json={**a, "scope": {}}, headers=auth(tokens["engineer"]))
    assert r.status_code == 400 and "needs a scope" in r.json()["detail"]
    r = client.post("/api/v1/corrective-actions", json={**a, "scope": {"serial_from": "P-0009", "serial_to": "P-0001"}},
                    headers=auth(tokens["engineer"]))  # was 201, then refused at verification
    assert r.status_code == 400 and "serial_from 'P-0009' comes after serial_to 'P-0001'" in r.json()["detail"]
    assert client.get("/api/v1/corrective-actions", headers=auth(tokens["engineer"])).json()["count"] == 0
    nowhere = client.post("/api/v1/corrective-actions", json={**a, "scope": {"model": "P-999"}},
                          headers=auth(tokens["engineer"])).json()["id"]
    r = client.post(f"/api/v1/corrective-actions/{nowhere}/verify", headers=auth(tokens["engineer"]))
    assert r.status_code == 400, r.text  # the action exists: not a 404, and the scope in words, not a dict
    assert r.json()["detail"] == (f"the scope of corrective action {nowhere} (model P-999) matches no registered "
                                  "unit: nothing to verify")
    r = client.post("/api/v1/corrective-actions", json=a, headers=auth(tokens["engineer"]))
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/corrective-actions/{r.json()['id']}/verify", headers=auth(tokens["engineer"]))
    v = r.json()["verdict"]
    assert v["verdict"] == "insufficient_data" and v["units_in_scope"] == 2
    ticket = client.get(f"/api/v1/tickets/{world.ticket}", headers=auth(tokens["viewer"])).json()
    assert ticket["eight_d"]["D6"]["verification"]["verdict"] == "insufficient_data"


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "0001-01-01", "9999-12-31T23:59:59-23:00",
                                  "1969-12-31T23:59:59Z"])
def test_a_time_outside_1970_3000_is_refused_by_name_and_nothing_is_stored(client, tokens, world, when):  # noqa: F811
    """An action applied in year 1 was stored and then could never be verified ("year 0 is out of range");
    the same time as a complaint's occurred_at was a 400 that named no field."""
    svc, eng = auth(tokens["service"]), auth(tokens["engineer"])
    r = client.post("/api/v1/complaints", json=body(occurred_at=when), headers=svc)
    assert r.status_code == 422, r.text
    assert "occurred_at: " in r.json()["detail"] and "between 1970-01-01 and 3000-01-01" in r.json()["detail"]
    assert client.get("/api/v1/complaints", headers=svc).json()["count"] == 0
    a = {"title": "Grease change", "scope": {"batch": "B7"}, "applied_at": when}
    r = client.post("/api/v1/corrective-actions", json=a, headers=eng)
    assert r.status_code == 422, r.text
    assert "applied_at: " in r.json()["detail"] and "between 1970-01-01 and 3000-01-01" in r.json()["detail"]
    assert client.get("/api/v1/corrective-actions", headers=eng).json()["count"] == 0
    r = client.post("/api/v1/corrective-actions", json={**a, "applied_at": "1970-01-01T00:00:00Z"}, headers=eng)
    assert r.status_code == 201, r.text  # the first accepted instant; it can be verified
    r = client.post(f"/api/v1/corrective-actions/{r.json()['id']}/verify", headers=eng)
    assert r.status_code == 200 and r.json()["verdict"]["verdict"], r.text


def test_a_misspelt_failure_mode_is_refused_not_a_second_ticket_or_an_empty_count(client, tokens, world):  # noqa: F811
    svc, eng = auth(tokens["service"]), auth(tokens["engineer"])
    r = client.post("/api/v1/complaints", json=body(failure_mode="outer raec"), headers=svc)
    assert r.status_code == 422 and "failure_mode: unknown failure mode 'outer raec': expected one of outer_race" \
        in r.json()["detail"]
    assert client.get("/api/v1/complaints", headers=svc).json()["count"] == 0
    r = client.post("/api/v1/complaints", json=body(failure_mode="Outer race"), headers=svc)
    assert r.status_code == 201 and r.json()["failure_mode"] == "outer_race"
    assert r.json()["ticket"] == world.ticket and r.json()["joined"]  # joins the unit's open outer_race ticket
    a = {"title": "Grease change", "scope": {"batch": "B7"}, "applied_at": iso(time.time() - 86400)}
    r = client.post("/api/v1/corrective-actions", json={**a, "failure_modes": ["outer_race", "inner rase"]},
                    headers=eng)
    assert r.status_code == 400 and "unknown failure mode 'inner rase'" in r.json()["detail"]
    assert client.get("/api/v1/corrective-actions", headers=eng).json()["count"] == 0
    r = client.post("/api/v1/corrective-actions", json={**a, "failure_modes": ["Inner-race", "customer_reported"]},
                    headers=eng)
    assert r.status_code == 201 and r.json()["failure_modes"] == ["customer_reported", "inner_race"]


def test_a_nul_character_is_a_client_error_on_every_database(ctx, tokens, world):  # noqa: F811
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(ctx), raise_server_exceptions=False) as c:
        r = c.post("/api/v1/complaints", json=body(description="grinds\x00 and smokes"), headers=auth(tokens["service"]))
        assert r.status_code in (201, 422), r.text  # SQLite stores it; PostgreSQL text cannot hold NUL
        if r.status_code == 422:
            assert "cannot be stored" in r.json()["detail"]
        r = c.get("/api/v1/complaints", params={"customer": "AC\x00ME"}, headers=auth(tokens["viewer"]))
        assert r.status_code == 422 and "query parameter customer contains a NUL" in r.json()["detail"]


def test_tickets_filter_by_source(client, tokens, world):  # noqa: F811
    client.post("/api/v1/complaints", json=body(device_id="P-0002"), headers=auth(tokens["service"]))
    viewer = auth(tokens["viewer"])
    customer = client.get("/api/v1/tickets", params={"source": "customer"}, headers=viewer).json()
    proactive = client.get("/api/v1/tickets", params={"source": "proactive"}, headers=viewer).json()
    assert [t["device_id"] for t in customer["data"]] == ["P-0002"]
    assert world.ticket in [t["number"] for t in proactive["data"]] and customer["count"] == 1


def test_an_emailed_serial_does_not_subscribe_the_sender_to_the_customers_ticket(client, tokens, world, smtp):  # noqa: F811
    """Security review: `Serial: P-0001` in a mail from anyone joined ACME's ticket and got its progress."""
    svc = auth(tokens["service"])
    assert client.post("/api/v1/complaints", json=body(), headers=svc).status_code == 201
    mail = (f"From: Eve <evil@example.com>\r\nSubject: Pump\r\nMessage-ID: <eve@x>\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
            f"\r\nSerial: P-0001\r\nRequest: advice\r\nWhat is wrong with it?\r\n").encode()
    r = client.post("/api/v1/complaints/email", content=mail, headers={**svc, "Content-Type": "message/rfc822"})
    assert r.status_code == 201 and r.json()["ticket"] == world.ticket
    r = client.post(f"/api/v1/tickets/{world.ticket}/messages", json={"kind": "progress", "text": "Parts ordered."},
                    headers=svc)
    assert r.status_code == 200
    assert [m["address"] for m in r.json()["messages"] if m["kind"] == "progress"] == ["ann@acme.example"]
    flagged = [c for c in r.json()["complaints"] if c.get("flagged")]
    assert len(flagged) == 1 and "evil@example.com" in flagged[0]["flag_reason"]
    assert smtp.wait_for(3)
    assert [rcpt for rcpt, m in smtp.messages if world.ticket in m["Subject"]] == [["ann@acme.example"]] * 2


def test_a_follow_up_answer_on_a_ticket_still_open_is_refused_naming_its_state(client, tokens, world):  # noqa: F811
    """The follow-up is sent after closure and its answer decides whether the ticket reopens; recorded on an
    open ticket it was kept as the customer's verdict on a repair not finished (and "not solved" reopened
    nothing), answered 200."""
    svc = auth(tokens["service"])
    number = client.post("/api/v1/complaints", json=body(device_id="P-0002"), headers=svc).json()["ticket"]
    assert client.post(f"/api/v1/tickets/{number}/move", json={"to": "triaged"}, headers=svc).status_code == 200
    r = client.post(f"/api/v1/tickets/{number}/follow-up", json={"solved": True, "satisfaction": 5}, headers=svc)
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == (f"ticket {number} is triaged: the customer's follow-up answer is recorded "
                                  "after closure (move the ticket to closed first)")
    log = client.get(f"/api/v1/tickets/{number}/communication", headers=svc).json()
    assert log["customer_followup"] is None and [m["kind"] for m in log["messages"]] == ["acknowledgement"]
    assert client.post(f"/api/v1/tickets/{number}/move", json={"to": "closed"}, headers=svc).status_code == 200
    r = client.post(f"/api/v1/tickets/{number}/follow-up", json={"solved": False, "satisfaction": 2}, headers=svc)
    assert r.status_code == 200 and r.json()["status"] == "reopened", r.text
    # worked on again, the ticket takes the next answer after its next closure
    assert client.post(f"/api/v1/tickets/{number}/move", json={"to": "investigating"}, headers=svc).status_code == 200
    r = client.post(f"/api/v1/tickets/{number}/follow-up", json={"solved": True}, headers=svc)
    assert r.status_code == 409 and f"ticket {number} is investigating: " in r.json()["detail"]


def test_a_signed_webhook_body_that_gives_a_key_twice_is_refused_naming_it(client, tokens, world):  # noqa: F811
    """A CRM's body with "device_id" twice was registered for the last one given, answered 201."""
    payload = (json.dumps(body(device_id="P-0002", external_ref="crm-dup", channel="crm"))[:-1]
               + ', "device_id": "P-0003"}').encode()
    ts = str(int(time.time()))
    r = client.post("/api/v1/complaints/webhook", content=payload, headers={
        **auth(tokens["service"]), "Content-Type": "application/json", "X-Foreshock-Timestamp": ts,
        "X-Foreshock-Signature": sign("crm-secret", ts, payload)})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == "device_id" and "duplicated key 'device_id'" in r.json()["detail"]
    assert client.get("/api/v1/complaints", headers=auth(tokens["viewer"])).json()["count"] == 0



def test_an_answer_message_without_text_is_refused_in_plain_english(client, tokens, world, smtp):  # noqa: F811
    # it said "a answer message needs text"
    svc = auth(tokens["service"])
    number = client.post("/api/v1/complaints", json=body(), headers=svc).json()["ticket"]
    r = client.post(f"/api/v1/tickets/{number}/messages", json={"kind": "answer", "text": " "}, headers=svc)
    assert r.status_code == 422 and "text: an answer message needs text" in r.json()["detail"], r.text
