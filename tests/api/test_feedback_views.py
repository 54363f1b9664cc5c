"""Field feedback where people look: the unit detail says how much it raised the unit's detector
thresholds, and the reports count the failures found on site beside the tickets."""

from __future__ import annotations

from alerts.models import Ticket
from tests.api.conftest import auth


def _second_ticket(ctx, device_id: str, mode: str) -> str:
    """Another warning of ``device_id``: a copy of its ticket under another failure mode."""
    with ctx.session_factory.begin() as s:
        t = s.query(Ticket).filter(Ticket.device_id == device_id).first()
        cols = {c.name: getattr(t, c.name) for c in Ticket.__table__.columns if c.name not in ("id", "number")}
        n = Ticket(**{**cols, "number": t.number + "B", "failure_mode": mode, "is_open": False, "status": "closed"})
        s.add(n)
    return t.number + "B"


def test_the_unit_detail_says_how_field_feedback_raised_its_thresholds(client, ctx, tokens, world):
    s, v = auth(tokens["service"]), auth(tokens["viewer"])
    u = client.get(f"/api/v1/units/{world.failing}", headers=v).json()
    assert u["detector_thresholds"]["factor"] == 1.0
    assert u["detector_thresholds"]["statement"] == ("detector thresholds unchanged: no field feedback on this unit's "
                                                     "warnings in 90 days")
    other = _second_ticket(ctx, world.failing, "imbalance")
    for n in (world.ticket, other):
        r = client.post(f"/api/v1/tickets/{n}/feedback", json={"verdict": "false_alarm"}, headers=s)
        assert r.status_code == 200, r.text
    d = client.get(f"/api/v1/units/{world.failing}", headers=v).json()["detector_thresholds"]
    assert (d["factor"], d["false_alarms"], d["real_faults"], d["window_d"]) == (1.2, 2, 0, 90)
    assert d["statement"] == "detector thresholds raised ×1.2 after 2 false alarms in 90 days"
    # a different fault found on site is a real fault: it takes a step back
    r = client.post(f"/api/v1/tickets/{other}/feedback",
                    json={"verdict": "confirmed", "actual_failure_mode": "looseness"}, headers=s)
    assert r.status_code == 200, r.text
    d = client.get(f"/api/v1/units/{world.failing}", headers=v).json()["detector_thresholds"]
    assert (d["factor"], d["false_alarms"], d["real_faults"]) == (1.0, 1, 1)
    assert d["statement"] == ("detector thresholds unchanged: 1 false alarm and 1 warning of a real fault in 90 days")
    # the list stays as it was: the factor is the detail's
    listed = client.get("/api/v1/units", headers=v).json()["data"]
    assert all(x.get("detector_thresholds") is None for x in listed)


def test_the_reports_count_the_failures_found_on_site_beside_the_tickets(client, ctx, tokens, world):
    s, v = auth(tokens["service"]), auth(tokens["viewer"])
    other = _second_ticket(ctx, world.failing, "imbalance")
    # the outer-race warning found an inner-race fault; the imbalance warning found nothing
    for n, body in ((world.ticket, {"verdict": "confirmed", "actual_failure_mode": "inner_race"}),
                    (other, {"verdict": "false_alarm", "actual_failure_mode": "other: sensor loose"})):
        assert client.post(f"/api/v1/tickets/{n}/feedback", json=body, headers=s).status_code == 200
    tickets = client.get("/api/v1/reports/pareto", headers=v).json()
    assert tickets["count"] == "tickets"
    warned = {b["key"]: b["count"] for b in tickets["bars"]}
    assert warned["outer_race"] == 1 and warned["imbalance"] == 1 and "inner_race" not in warned
    found = client.get("/api/v1/reports/pareto", params={"count": "failures"}, headers=v).json()
    assert found["count"] == "failures"
    got = {b["key"]: b["count"] for b in found["bars"]}
    assert got.get("inner_race") == 1 and "outer_race" not in got and "imbalance" not in got
    assert found["total"] == tickets["total"] - 1
    by_unit = client.get("/api/v1/reports/pareto", params={"count": "failures", "by": "device_id"}, headers=v).json()
    assert {b["key"]: b["count"] for b in by_unit["bars"]}[world.failing] == 1
    top = client.get("/api/v1/reports/top", headers=v).json()["items"]
    mine = next(i for i in top if i["key"] == world.failing)
    assert (mine["tickets"], mine["failures"]) == (2, 1)
    r = client.get("/api/v1/reports/pareto", params={"count": "warnings"}, headers=v)
    assert r.status_code == 422 and "count" in r.json()["detail"]
