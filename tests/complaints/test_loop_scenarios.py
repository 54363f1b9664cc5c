"""Complaints and corrective actions in the same loop as Foreshock's warnings, as docs/complaints.md says:
joining the unit's open ticket (of the named failure mode), the warning that preceded a complaint, the
monthly counts, and a corrective action verified with too little data. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from alerts.complaint_desk import ComplaintDesk
from alerts.reports import monthly_report
from devices.models import Unit
from tests.alerts.helpers import T0, assess

pytestmark = pytest.mark.integration
H, DAY = 3600.0, 86400.0


def complaint(**kw) -> dict:
    base = {"contact": {"name": "Ann Lee", "email": "ann@acme.example"}, "device_id": "P-0001",
            "description": "Pump grinds loudly", "occurred_at": T0 + 2 * H, "request": "repair"}
    return {**base, **kw}


def test_a_second_unclassified_complaint_is_preceded_by_the_same_warning_as_the_first(service, clock):
    """The first complaint (no failure mode) opens a 'customer_reported' ticket and counts the unit's watch
    alert as the warning that preceded it; a second one joining that ticket used to look for alerts of the
    mode 'customer_reported', found none and said the problem came unannounced."""
    clock.t = T0
    service.handle_assessment("P-0001", assess("watch", T0), source_key="w")  # an alert, no ticket
    desk = ComplaintDesk(service)
    clock.t = T0 + 3 * H
    first = desk.register(complaint(), actor="agent")
    assert (first["joined"], first["warned_at"], first["warning_lead_s"]) == (
        False, "2026-11-02T00:00:00+00:00", 7200.0)
    clock.t = T0 + 5 * H
    second = desk.register(complaint(occurred_at=T0 + 4 * H, contact={"email": "bo@acme.example"}), actor="agent")
    assert second["ticket"] == first["ticket"] and second["joined"] is True
    assert (second["warned_at"], second["warning_lead_s"]) == ("2026-11-02T00:00:00+00:00", 14400.0)
    c = monthly_report(service.session_factory, "2026-11")["complaints"]
    assert (c["received"], c["joined_open_ticket"], c["preceded_by_warning"], c["preceded_share"]) == (2, 1, 2, 1.0)
    # lead times 2 h and 4 h: the median of an even count is the mean of the middle two
    assert c["lead_time_h"] == {"mean": 3.0, "median": 3.0, "min": 2.0}


def test_a_complaint_joins_only_a_ticket_of_the_mode_it_names_and_a_higher_grade_regrades_it(service, clock):
    clock.t = T0
    number = next(c.ticket for c in service.handle_assessment("P-0001", assess("warning", T0), source_key="k")
                  if c.kind == "ticket_opened")
    desk = ComplaintDesk(service)
    clock.t = T0 + H
    other = desk.register(complaint(failure_mode="imbalance"), actor="agent")
    assert other["joined"] is False and other["ticket"] != number
    t = service.get_ticket(other["ticket"])
    assert (t["source"], t["failure_mode"], t["grade"]) == ("customer", "imbalance", "major")
    assert other["preceded_by_warning"] is False  # the outer-race alert is no warning of imbalance
    same = desk.register(complaint(failure_mode="Outer race", grade="critical",
                                   contact={"email": "bo@acme.example"}), actor="agent")
    assert same["joined"] is True and same["ticket"] == number and same["warning_lead_s"] == 7200.0
    t = service.get_ticket(number)
    assert (t["source"], t["grade"]) == ("proactive", "critical")
    # the critical clocks counted from the opening (response 2 h: the acknowledgement at 1 h answered it)
    assert (t["response_due"], t["resolution_due"]) == ("2026-11-02T02:00:00+00:00", "2026-11-03T00:00:00+00:00")
    assert t["responded_at"] == "2026-11-02T01:00:00+00:00"
    actions = [e["action"] for e in t["audit"]]
    assert actions.count("complaint_joined") == 1 and "regraded" in actions
    assert len(service.list_tickets(open_only=True)) == 2


def test_a_corrective_action_with_too_little_data_is_not_decided_and_says_what_it_needs(service, clock):
    desk = ComplaintDesk(service)
    # before the action (T0 - 10 d, baseline 30 d): P-0001 fails twice, one of them a false alarm; P-0003 once
    for i, (dev, t) in enumerate((("P-0001", T0 - 20 * DAY), ("P-0001", T0 - 15 * DAY), ("P-0003", T0 - 18 * DAY),
                                  ("P-0003", T0 - 5 * DAY))):  # and P-0003 once after it
        clock.t = t
        got = service.handle_assessment(dev, assess("warning", t), source_key=f"k{i}")
        number = next(c.ticket for c in got if c.kind == "ticket_opened")
        for j in range(3):
            service.handle_assessment(dev, assess("healthy", t + j + 1), source_key=f"k{i}h{j}")
        service.move_ticket(number, "closed", actor="ana")
        if i == 1:
            service.record_feedback(number, "false_alarm", actor="ana")
    clock.t = T0
    # the units have no install date: they count from their registration, here before the baseline began
    with service.session_factory.begin() as s:
        s.execute(update(Unit).values(created_at=dt.datetime.fromtimestamp(T0 - 60 * DAY, dt.UTC)))
    number = service.list_tickets(device_id="P-0001")[-1]["number"]
    a = desk.create_action(title="Grease change on batch B7", scope={"batch": "B7"}, applied_at=T0 - 10 * DAY,
                           baseline_d=30, failure_modes=["outer_race"], ticket=number, actor="eng")
    out = desk.verify_action(a["id"], actor="eng")
    v = out["verdict"]
    assert v["verdict"] == "insufficient_data"
    # failures, unit-days: B7 is P-0001 and P-0002 (registered before the window: all of it)
    assert v["counts"] == {"before_in": [1.0, 60.0], "after_in": [0.0, 20.0], "before_out": [1.0, 30.0],
                           "after_out": [1.0, 10.0]}
    assert (v["units_in_scope"], v["units_out_of_scope"]) == (2, 1)
    assert v["statement"].startswith("not yet decided")
    assert v["more_unit_days"] is not None or "too few failures" in v["statement"]
    d = service.get_ticket(number)["eight_d"]
    assert d["D6"]["verification"]["verdict"] == "insufficient_data" and d["D7"]["verdict"] == "insufficient_data"
    # applied just now: no unit-days after it yet
    b = desk.create_action(title="Firmware 1.5", scope={"batch": "B7"}, applied_at=T0, ticket=number, actor="eng")
    v = desk.verify_action(b["id"])["verdict"]
    # in words: it is written into the ticket's D6/D7, which a quality manager reads
    says = ("not yet decided, asked too early: neither the units in the action's scope nor those outside it have "
            "run a day since the action; verify again once they have run for a while")
    assert v["verdict"] == "insufficient_data" and v["statement"] == says
    assert service.get_ticket(number)["eight_d"]["D7"]["statement"] == says


def test_a_complaint_ticket_joins_the_open_fleet_problem_of_its_model_and_mode(service, clock):
    """'links every unit ticket of the window to it (later ones too while it is open)': a ticket a complaint
    opened was linked only if a warning of another unit of the group happened to follow."""
    opened = []
    for i, dev in enumerate(("P-0001", "P-0002", "P-0003")):
        clock.t = T0 + i * H
        got = service.handle_assessment(dev, assess("warning", T0 + i * H), source_key=f"k{i}")
        opened += [c for c in got if c.kind in ("ticket_opened", "fleet_ticket_opened")]
    # the three units share the model and the firmware: one fleet problem per group
    fleets = [c.ticket for c in opened if c.kind == "fleet_ticket_opened"]
    assert sorted(service.get_ticket(n)["group_key"] for n in fleets) == ["firmware:1.4.2", "model:P-200"]
    first = next(c.ticket for c in opened if c.kind == "ticket_opened" and c.device_id == "P-0001")
    clock.t = T0 + 4 * H
    service.move_ticket(first, "closed", actor="ana", note="bearing replaced")
    clock.t = T0 + 6 * H
    out = ComplaintDesk(service).register(complaint(failure_mode="outer_race", occurred_at=T0 + 5 * H), actor="agent")
    assert out["joined"] is False
    for n in fleets:
        assert out["ticket"] in [lk["ticket"] for lk in service.get_ticket(n)["links"] if lk["reason"] == "fleet"]
    assert len(service.list_tickets(kind="fleet")) == 2  # linked, no new fleet ticket
    # an unclassified complaint is no failure mode of the fleet problem: not linked
    clock.t = T0 + 7 * H
    service.move_ticket(out["ticket"], "closed", actor="ana")
    plain = ComplaintDesk(service).register(complaint(occurred_at=T0 + 6 * H), actor="agent")
    assert all(plain["ticket"] not in [lk["ticket"] for lk in service.get_ticket(n)["links"]] for n in fleets)


def test_a_not_solved_answer_is_kept_when_a_newer_ticket_already_follows_the_problem(service, clock):
    """The customer says 'not solved' about a closed ticket while a newer ticket of the unit and failure mode
    is open: the ticket cannot be reopened beside it. The whole answer (satisfaction, comment) used to be
    refused with the reopen and was lost; it is kept, and the newer ticket is told."""
    desk = ComplaintDesk(service)
    clock.t = T0 + 3 * H
    old = desk.register(complaint(failure_mode="outer_race"), actor="agent")["ticket"]
    clock.t = T0 + 5 * H
    service.move_ticket(old, "closed", actor="maria", note="bearing replaced")
    clock.t = T0 + 2 * DAY
    got = service.handle_assessment("P-0001", assess("warning", T0 + 2 * DAY), source_key="again")
    newer = next(c.ticket for c in got if c.kind == "ticket_opened")
    clock.t = T0 + 2 * DAY + H
    log = desk.reply(old, solved=False, satisfaction=2, comment="still noisy", actor="maria")
    assert log["status"] == "closed"
    f = log["customer_followup"]
    assert (f["solved"], f["satisfaction"], f["comment"]) == (False, 2, "still noisy")
    assert f["not_reopened"] == f"{newer} is already open for P-0001 / outer_race: the problem is followed there"
    assert log["messages"][-1]["kind"] == "reply" and log["messages"][-1]["body"] == "still noisy"
    told = [e for e in service.get_ticket(newer)["audit"] if e["action"] == "customer_followup"]
    assert [(e["detail"]["about"], e["detail"]["satisfaction"]) for e in told] == [(old, 2)]
    # a manual reopen is still refused with the reason
    with pytest.raises(ValueError, match=f"cannot be reopened: {newer} is already open"):
        service.move_ticket(old, "reopened", actor="maria")


def test_a_complaint_ticket_judged_a_false_alarm_does_not_dull_the_units_detectors(service, clock):
    """The threshold factor answers false *warnings*; a customer's complaint that found nothing wrong
    was no warning of Foreshock's, so its verdict leaves the unit's sensitivity alone."""
    desk = ComplaintDesk(service)
    clock.t = T0 + H
    opened = desk.register(complaint(failure_mode="imbalance"), actor="agent")
    assert service.get_ticket(opened["ticket"])["source"] == "customer"
    service.move_ticket(opened["ticket"], "closed", actor="ana")
    service.record_feedback(opened["ticket"], "false_alarm", actor="ana")
    assert service.threshold_factor("P-0001") == 1.0
    # a false alarm on one of its own warnings does raise it
    clock.t = T0 + 2 * H
    got = service.handle_assessment("P-0001", assess("warning", T0 + 2 * H), source_key="own")
    number = next(c.ticket for c in got if c.kind == "ticket_opened")
    service.move_ticket(number, "closed", actor="ana")
    service.record_feedback(number, "false_alarm", actor="ana")
    assert service.threshold_factor("P-0001") > 1.0
