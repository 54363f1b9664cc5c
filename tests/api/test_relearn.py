"""``POST /api/v1/units/{id}/relearn``: a request to relearn a unit's detector baseline, recorded on the unit
for the detection stage (docs/api.md). Runs on SQLite and on PostgreSQL (``ctx``)."""

from __future__ import annotations

from tests.api.conftest import auth


def test_relearn_records_the_request_for_the_unit_in_any_letter_case(client, tokens, ctx):
    ctx.registry.create_unit("P-0001", customer="ACME")
    assert client.get("/api/v1/units/P-0001", headers=auth(tokens["viewer"])).json()["relearn"] is None
    r = client.post("/api/v1/units/p-0001/relearn", json={"accept_current": True, "reason": "frame resonance"},
                    headers=auth(tokens["engineer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["device_id"], body["accept_current"], body["by"], body["reason"]) == (
        "P-0001", True, "t-engineer", "frame resonance")
    detail = client.get("/api/v1/units/p-0001", headers=auth(tokens["viewer"])).json()["relearn"]
    assert detail == {**{k: body[k] for k in ("requested_at", "accept_current", "by", "reason")}, "applied": False}
    req = ctx.registry.relearn_request("P-0001")
    assert req["accept_current"] is True and req["by"] == "t-engineer" and req["reason"] == "frame resonance"
    r = client.post("/api/v1/units/P-0001/relearn", json={}, headers=auth(tokens["admin"]))  # the defaults
    assert r.status_code == 200, r.text
    assert r.json()["accept_current"] is False and r.json()["reason"] is None
    assert ctx.registry.relearn_request("P-0001")["requested_at"] >= req["requested_at"]


def test_relearn_answers_404_403_and_400_naming_the_problem(client, tokens, ctx):
    ctx.registry.create_unit("P-0001")
    ctx.registry.create_unit("Q-1")
    ctx.registry.decommission("Q-1")
    eng = auth(tokens["engineer"])
    r = client.post("/api/v1/units/NOPE/relearn", json={}, headers=eng)
    assert r.status_code == 404 and "NOPE" in r.json()["detail"]
    r = client.post("/api/v1/units/P-0001/relearn", json={}, headers=auth(tokens["viewer"]))
    assert r.status_code == 403 and "needs the engineer role" in r.json()["detail"]
    for body, said in (({"accept_current": "maybe"}, "accept_current"), ({"accept_current": 0}, "accept_current"),
                       ({"reason": "x" * 501}, "reason"),
                       ({"reason": "x", "by": "mallory"}, "by"), ({"reason": 5}, "reason")):
        r = client.post("/api/v1/units/P-0001/relearn", json=body, headers=eng)
        assert r.status_code == 422 and said in r.text, (body, r.status_code, r.text)
    r = client.post("/api/v1/units/Q-1/relearn", json={}, headers=eng)
    assert r.status_code == 400 and "decommissioned" in r.json()["detail"]
    assert ctx.registry.relearn_request("P-0001") is None and ctx.registry.relearn_request("Q-1") is None


def test_the_unit_detail_says_whether_the_detectors_applied_the_latest_request(client, tokens, ctx):
    """The page could say "applied" only while the unit's health still named the request, and after the
    baseline was learnt went back to "the detectors apply it with the unit's next message". The detail now
    says ``applied`` from the detectors' saved state (this API process runs no detection stage)."""
    import json

    from foreshock.models import DetectorState

    ctx.registry.create_unit("P-0001")
    eng, viewer = auth(tokens["engineer"]), auth(tokens["viewer"])
    client.post("/api/v1/units/P-0001/relearn", json={"reason": "new bearing"}, headers=eng)
    first = ctx.registry.relearn_request("P-0001")["requested_at"]

    def saved(relearn) -> None:
        with ctx.session_factory() as s:
            row = s.get(DetectorState, "P-0001") or DetectorState(device_id="P-0001", state_json="{}")
            row.state_json = json.dumps({"monitor": {}, "last_ts": {}, **({"relearn": relearn} if relearn else {})})
            s.add(row)
            s.commit()

    def applied() -> bool:
        return client.get("/api/v1/units/P-0001", headers=viewer).json()["relearn"]["applied"]

    assert applied() is False  # no detector state yet
    saved(None)
    assert applied() is False  # a state that applied no request
    saved(first)
    assert applied() is True
    client.post("/api/v1/units/P-0001/relearn", json={"reason": "again"}, headers=eng)
    assert ctx.registry.relearn_request("P-0001")["requested_at"] > first
    assert applied() is False  # a newer request, not yet applied
