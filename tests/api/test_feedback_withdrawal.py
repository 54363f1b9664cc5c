"""Closure feedback in the API: a verdict recorded by mistake is withdrawn with a reason
(``DELETE /api/v1/tickets/{number}/feedback``); the desk and CLI could, the API could not."""

from __future__ import annotations

from tests.api.conftest import auth


def _feedback(client, n, headers, **body):
    r = client.post(f"/api/v1/tickets/{n}/feedback", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_feedback_is_withdrawn_with_a_reason_and_the_history_keeps_it(client, ctx, tokens, world):
    s, n = auth(tokens["service"]), world.ticket
    _feedback(client, n, s, verdict="false_alarm", cause="sensor loose")
    assert ctx.alerts.threshold_factor(world.failing) > 1.0
    r = client.request("DELETE", f"/api/v1/tickets/{n}/feedback", json={"reason": "wrong ticket"}, headers=s)
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["feedback_verdict"] is None and not t.get("feedback")
    last = t["audit"][-1]
    assert last["action"] == "feedback_withdrawn" and last["by"] == "t-service"
    assert last["detail"]["reason"] == "wrong ticket"
    assert last["detail"]["before"]["verdict"] == "false_alarm"
    assert last["detail"]["threshold_factor"] == 1.0
    assert ctx.alerts.threshold_factor(world.failing) == 1.0


def test_the_reason_may_be_a_query_parameter(client, tokens, world):
    s, n = auth(tokens["service"]), world.ticket
    _feedback(client, n, s, verdict="confirmed")
    r = client.delete(f"/api/v1/tickets/{n}/feedback", params={"reason": "typed on the wrong ticket"}, headers=s)
    assert r.status_code == 200, r.text
    assert r.json()["audit"][-1]["detail"]["reason"] == "typed on the wrong ticket"


def test_withdrawal_is_refused_by_name_and_changes_nothing(client, tokens, world):
    s, v, n = auth(tokens["service"]), auth(tokens["viewer"]), world.ticket
    # nothing to withdraw yet: a conflict with the ticket's state
    r = client.delete(f"/api/v1/tickets/{n}/feedback", params={"reason": "oops"}, headers=s)
    assert r.status_code == 409 and f"ticket {n} has no feedback to withdraw" in r.json()["detail"], r.text
    _feedback(client, n, s, verdict="confirmed", cause="seal")
    for kwargs in ({}, {"json": {"reason": "   "}}, {"params": {"reason": ""}}, {"json": {}},
                   {"json": {"reason": "a"}, "params": {"reason": "b"}}):
        r = client.request("DELETE", f"/api/v1/tickets/{n}/feedback", headers=s, **kwargs)
        assert r.status_code == 422, (kwargs, r.status_code, r.text)
        assert "reason" in r.json()["detail"], (kwargs, r.text)
    r = client.request("DELETE", f"/api/v1/tickets/{n}/feedback", json={"reason": "x"}, headers=v)
    assert r.status_code == 403
    r = client.request("DELETE", "/api/v1/tickets/PF-NOPE/feedback", json={"reason": "x"}, headers=s)
    assert r.status_code == 404 and "PF-NOPE" in r.json()["detail"]
    t = client.get(f"/api/v1/tickets/{n}", headers=v).json()
    assert t["feedback_verdict"] == "confirmed" and t["feedback"]["cause"] == "seal"
    assert [e["action"] for e in t["audit"]].count("feedback_withdrawn") == 0
