"""A ticket number in any letter case: ``pf202611001`` read out on the phone or copied from an e-mail is
ticket PF202611001. Every route that takes a ticket number finds the ticket, and answers with the number as
stored (upper case).

Before, each of these answered 404 ``no ticket 'pf202611001'`` (and the complaints list filtered by the
typed number came back empty). SQLite and PostgreSQL (``ctx``).
"""

from __future__ import annotations

import time

from tests.api.conftest import auth


def test_every_ticket_route_finds_the_ticket_whatever_the_letter_case(client, tokens, world):
    v, s, e = auth(tokens["viewer"]), auth(tokens["service"]), auth(tokens["engineer"])
    stored = world.ticket
    typed = stored.lower()
    assert typed != stored

    r = client.get(f"/api/v1/tickets/{typed}", headers=v)
    assert r.status_code == 200, r.text
    assert r.json()["number"] == stored
    r = client.get(f"/api/v1/tickets/Pf{stored[2:]}", headers=v)
    assert r.status_code == 200 and r.json()["number"] == stored

    r = client.post(f"/api/v1/tickets/{typed}/assign", json={"assignee": "ana"}, headers=s)
    assert r.status_code == 200 and r.json()["number"] == stored and r.json()["assignee"] == "ana", r.text
    r = client.post(f"/api/v1/tickets/{typed}/comments", json={"text": "customer called"}, headers=s)
    assert r.status_code == 200 and r.json()["comments"][-1]["text"] == "customer called", r.text
    r = client.put(f"/api/v1/tickets/{typed}/8d/D4", json={"content": "grease contaminated"}, headers=s)
    assert r.status_code == 200 and r.json()["eight_d"]["D4"] == "grease contaminated", r.text
    r = client.post(f"/api/v1/tickets/{typed}/move", json={"to": "triaged"}, headers=s)
    assert r.status_code == 200 and r.json()["status"] == "triaged", r.text
    r = client.post(f"/api/v1/tickets/{typed}/feedback", json={"verdict": "confirmed"}, headers=s)
    assert r.status_code == 200 and r.json()["feedback_verdict"] == "confirmed", r.text
    r = client.request("DELETE", f"/api/v1/tickets/{typed}/feedback", json={"reason": "wrong ticket"}, headers=s)
    assert r.status_code == 200 and r.json()["feedback_verdict"] is None, r.text

    complaint = {"contact": {"name": "Ann Lee", "phone": "+49 30 1234567"}, "device_id": "P-0001",
                 "description": "The pump grinds", "occurred_at": time.time() - 60, "request": "repair"}
    r = client.post("/api/v1/complaints", json=complaint, headers=s)
    assert r.status_code == 201 and r.json()["ticket"] == stored, r.text
    listed = client.get("/api/v1/complaints", params={"ticket": typed}, headers=v).json()
    assert listed["count"] == 1 and listed["data"][0]["ticket"] == stored
    r = client.get(f"/api/v1/tickets/{typed}/communication", headers=v)
    assert r.status_code == 200 and r.json()["ticket"] == stored, r.text
    r = client.post(f"/api/v1/tickets/{typed}/messages", json={"kind": "progress", "text": "Parts ordered."},
                    headers=s)
    assert r.status_code == 200 and r.json()["messages"][-1]["kind"] == "progress", r.text
    assert client.post(f"/api/v1/tickets/{typed}/move", json={"to": "closed"}, headers=s).status_code == 200
    r = client.post(f"/api/v1/tickets/{typed}/follow-up", json={"solved": True, "satisfaction": 5}, headers=s)
    assert r.status_code == 200 and r.json()["ticket"] == stored, r.text

    action = {"title": "New grease", "scope": {"model": "P-200"}, "applied_at": "2026-01-01T00:00:00Z",
              "ticket": typed}
    r = client.post("/api/v1/corrective-actions", json=action, headers=e)
    assert r.status_code == 201 and r.json()["ticket"] == stored, r.text

    # a number no ticket has is still a 404 naming it as typed
    r = client.get("/api/v1/tickets/pf209901999", headers=v)
    assert r.status_code == 404 and r.json()["detail"] == "no ticket 'pf209901999'"
