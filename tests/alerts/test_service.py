"""AlertService on both backends: lifecycle, idempotence, suppression, flapping, grading."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from alerts.config import AlertConfig
from alerts.models import Alert, ProcessedMessage, Ticket
from alerts.service import AlertService
from tests.alerts.helpers import T0, Clock, FakeRegistry, assess, kinds

pytestmark = pytest.mark.integration


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def svc(factory, clock):
    return AlertService(factory, clock=clock)


def test_watch_warning_alarm_then_clear_with_hysteresis(svc, factory):
    assert svc.handle_assessment("u1", assess("healthy", T0), source_key="u1:1") == []
    raised = svc.handle_assessment("u1", assess("watch", T0 + 60), source_key="u1:2")
    assert kinds(raised) == ["alert_raised"] and raised[0].grade == "minor"
    warn = svc.handle_assessment("u1", assess("warning", T0 + 120), source_key="u1:3")
    assert kinds(warn) == ["alert_escalated", "ticket_opened"]
    assert warn[1].ticket == "PF202611001" and warn[1].grade == "major"
    alarm = svc.handle_assessment("u1", assess("alarm", T0 + 180), source_key="u1:4")
    assert kinds(alarm) == ["alert_escalated", "ticket_regraded"] and alarm[1].grade == "critical"
    # a better state does not de-escalate; two healthy are not enough to clear (hysteresis 3)
    assert svc.handle_assessment("u1", assess("warning", T0 + 240), source_key="u1:5") == []
    assert svc.handle_assessment("u1", assess("healthy", T0 + 300), source_key="u1:6") == []
    assert svc.handle_assessment("u1", assess("healthy", T0 + 360), source_key="u1:7") == []
    cleared = svc.handle_assessment("u1", assess("healthy", T0 + 420), source_key="u1:8")
    assert kinds(cleared) == ["alert_cleared"]
    with factory() as s:
        alert = s.scalars(select(Alert)).one()
        ticket = s.scalars(select(Ticket)).one()
    assert (alert.status, alert.severity, alert.cleared_at) == ("cleared", "alarm", T0 + 420)
    assert ticket.grade == "critical" and ticket.response_due == T0 + 2 * 3600
    assert ticket.eight_d["D2"]["unit"] == "u1" and ticket.eight_d["D2"]["features"]["kurtosis"] == 5.1


def test_a_worse_state_in_between_resets_the_clear_count(svc):
    svc.handle_assessment("u1", assess("warning", T0), source_key="k1")
    svc.handle_assessment("u1", assess("healthy", T0 + 1), source_key="k2")
    svc.handle_assessment("u1", assess("healthy", T0 + 2), source_key="k3")
    svc.handle_assessment("u1", assess("warning", T0 + 3), source_key="k4")
    assert svc.handle_assessment("u1", assess("healthy", T0 + 4), source_key="k5") == []
    assert svc.handle_assessment("u1", assess("healthy", T0 + 5), source_key="k6") == []
    assert kinds(svc.handle_assessment("u1", assess("healthy", T0 + 6), source_key="k7")) == ["alert_cleared"]


def test_a_redelivered_healthy_message_counts_once_towards_the_clear(svc):
    svc.handle_assessment("u1", assess("warning", T0), source_key="k1")
    for _ in range(3):
        assert svc.handle_assessment("u1", assess("healthy", T0 + 1), source_key="same") == []
    svc.handle_assessment("u1", assess("healthy", T0 + 2), source_key="k2")
    assert kinds(svc.handle_assessment("u1", assess("healthy", T0 + 3), source_key="k3")) == ["alert_cleared"]


def test_unknown_never_raises_and_bad_input_is_named(svc):
    assert svc.handle_assessment("u1", assess("unknown", T0), source_key="k") == []
    with pytest.raises(ValueError, match="state must be one of"):
        svc.handle_assessment("u1", assess("broken", T0), source_key="k")
    with pytest.raises(ValueError, match="device_id"):
        svc.handle_assessment("", assess("warning", T0), source_key="k")
    with pytest.raises(ValueError, match="source_key"):
        svc.handle_assessment("u1", assess("warning", T0), source_key="")


def test_redelivery_and_restart_change_nothing_twice(svc, factory, clock):
    first = svc.handle_assessment("u1", assess("warning", T0), source_key="u1:7:100")
    assert kinds(first) == ["alert_raised", "ticket_opened"]
    assert svc.handle_assessment("u1", assess("warning", T0), source_key="u1:7:100") == []
    restarted = AlertService(factory, clock=clock)
    assert restarted.handle_assessment("u1", assess("warning", T0), source_key="u1:7:100") == []
    # a new message in the same state: answered from the cache, no database write
    with factory() as s:
        before = s.scalar(select(func.count()).select_from(ProcessedMessage))
    assert restarted.handle_assessment("u1", assess("warning", T0 + 5), source_key="u1:8:105") == []
    # an old alert redelivered after the clear does not re-raise it
    for i in range(3):
        restarted.handle_assessment("u1", assess("healthy", T0 + 10 + i), source_key=f"h{i}")
    assert restarted.handle_assessment("u1", assess("warning", T0), source_key="u1:7:100") == []
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(ProcessedMessage)) == before + 1
        assert s.scalar(select(func.count()).select_from(Alert)) == 1
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1


def test_ttf_under_48h_is_critical(svc):
    got = svc.handle_assessment("u1", assess("warning", T0, ttf_s=20 * 3600.0), source_key="k")
    assert [c.grade for c in got] == ["critical", "critical"]


def test_watch_does_not_open_a_ticket_unless_configured(factory, clock):
    svc = AlertService(factory, clock=clock)
    assert kinds(svc.handle_assessment("u1", assess("watch", T0), source_key="a")) == ["alert_raised"]
    eager = AlertService(factory, clock=clock, config=AlertConfig(ticket_min_state="watch"))
    assert kinds(eager.handle_assessment("u2", assess("watch", T0), source_key="b")) == [
        "alert_raised", "ticket_opened"]


def test_a_second_failure_mode_is_a_second_alert_joining_no_ticket_of_the_first(svc):
    svc.handle_assessment("u1", assess("warning", T0, "outer_race"), source_key="a")
    got = svc.handle_assessment("u1", assess("warning", T0 + 1, "imbalance"), source_key="b")
    assert kinds(got) == ["alert_raised", "ticket_opened"] and got[1].ticket == "PF202611002"


def test_an_escalation_uses_the_ticket_another_worker_opened(svc, factory, clock):
    svc.handle_assessment("u1", assess("watch", T0), source_key="a")
    other = AlertService(factory, clock=clock)  # a second worker with its own cache
    assert "ticket_opened" in kinds(other.handle_assessment("u1", assess("warning", T0 + 1), source_key="b"))
    got = svc.handle_assessment("u1", assess("alarm", T0 + 2), source_key="c")
    assert kinds(got) == ["alert_escalated", "ticket_regraded"]
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1


def test_maintenance_window_suppresses_unit_and_site(factory, clock):
    reg = FakeRegistry({"u1": {"site": "plant-a"}, "u2": {"site": "plant-a"}, "u3": {"site": "plant-b"}})
    svc = AlertService(factory, clock=clock, registry=reg)
    svc.add_maintenance(site="plant-a", starts_at=T0, ends_at=T0 + 3600, reason="overhaul", actor="ops")
    assert kinds(svc.handle_assessment("u1", assess("alarm", T0 + 10), source_key="a")) == ["alert_suppressed"]
    assert kinds(svc.handle_assessment("u3", assess("alarm", T0 + 10), source_key="b"))[0] == "alert_raised"
    assert kinds(svc.handle_assessment("u2", assess("alarm", T0 + 3700), source_key="c"))[0] == "alert_raised"
    with pytest.raises(ValueError, match="unit .* or a site"):
        svc.add_maintenance(starts_at=T0, ends_at=T0 + 1)


def test_a_unit_silent_inside_a_maintenance_window_raises_no_alert_until_the_window_ends(factory, clock):
    """A site's planned shutdown switches its units off: each went silent and raised a 'unit silent' alert
    (and a unit.silent notification) inside the window that was to keep alerts quiet."""
    reg = FakeRegistry({"u1": {"site": "plant-a"}, "u2": {"site": "plant-a"}, "u3": {"site": "plant-b"},
                        "u4": {"site": "plant-b"}})
    svc = AlertService(factory, clock=clock, registry=reg)
    svc.add_maintenance(site="plant-a", starts_at=T0, ends_at=T0 + 3600, reason="shutdown", actor="ops")
    svc.add_maintenance(device_id="u4", starts_at=T0, ends_at=T0 + 3600, reason="sensor swap", actor="ops")
    reg.silent = ["u1", "u2", "u3", "u4"]
    changes = svc.tick(now=T0 + 600)
    assert [(c.kind, c.device_id) for c in changes] == [("unit_silent", "u3")]
    assert svc.tick(now=T0 + 1200) == []  # nothing more while the windows last
    after = svc.tick(now=T0 + 3600)  # ended: still silent, now said
    assert sorted((c.kind, c.device_id) for c in after) == [("unit_silent", "u1"), ("unit_silent", "u2"),
                                                            ("unit_silent", "u4")]
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Alert).where(Alert.failure_mode == "silent")) == 4


def test_two_people_deleting_one_maintenance_window_at_once_delete_it_once(factory, clock, monkeypatch):
    """Both read the window before either deleted it, and both were told they deleted it (two 200s, the log
    saying so twice); the second is told it is gone, as it would be a moment later."""
    import threading

    from alerts.desk import TicketDesk
    from tests.rendezvous import meeting, run_together

    svc = AlertService(factory, clock=clock)
    wid = svc.add_maintenance(device_id="u1", starts_at=T0, ends_at=T0 + 3600, reason="typo", actor="ops")
    monkeypatch.setattr(TicketDesk, "_window", staticmethod(meeting(TicketDesk._window, threading.Barrier(2))))
    outcome: list[str] = []

    def delete(who: str) -> None:
        try:
            AlertService(factory, clock=clock).delete_maintenance(wid, actor=who)
            outcome.append("deleted")
        except LookupError as exc:
            outcome.append(str(exc))

    run_together(lambda: delete("ana"), lambda: delete("bo"))
    assert sorted(outcome) == ["deleted", f"no maintenance window {wid}"]
    assert svc.list_maintenance() == ([], 0)


def test_flapping_alert_is_marked(svc):
    flags = []
    for i in range(3):
        raised = svc.handle_assessment("u1", assess("watch", T0 + i * 100), source_key=f"w{i}")
        flags.append(raised[0].detail["flapping"])
        for j in range(3):
            svc.handle_assessment("u1", assess("healthy", T0 + i * 100 + j + 1), source_key=f"h{i}{j}")
    assert flags == [False, False, True]


def test_registry_fields_land_on_the_ticket(factory, clock):
    reg = FakeRegistry({"u1": {"model": "P-200", "customer": "ACME", "site": "s1", "firmware": "1.4.2",
                               "batch": "B7"}})
    svc = AlertService(factory, clock=clock, registry=reg)
    got = svc.handle_assessment("u1", assess("warning", T0), source_key="a")
    t = svc.get_ticket(got[1].ticket)
    assert (t["model"], t["customer"], t["firmware"], t["batch"]) == ("P-200", "ACME", "1.4.2", "B7")
    assert t["eight_d"]["D2"]["model"] == "P-200" and t["title"] == "outer_race on u1 (P-200)"
