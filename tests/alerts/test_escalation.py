"""Repeat failures, fleet surges and concurrent workers, on both backends."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from alerts.escalation import surge_ratio
from alerts.models import Alert, Ticket
from alerts.service import AlertService
from tests.alerts.helpers import T0, Clock, FakeRegistry, assess, kinds

pytestmark = pytest.mark.integration
DAY = 86400.0


def _fail_and_recover(svc, device: str, t: float, key: str, mode: str = "outer_race") -> list:
    svc.clock.t = t
    got = svc.handle_assessment(device, assess("warning", t, mode), source_key=f"{key}:w")
    number = next((c.ticket for c in got if c.kind == "ticket_opened"), None)
    for i in range(3):
        svc.handle_assessment(device, assess("healthy", t + i + 1), source_key=f"{key}:h{i}")
    if number:
        svc.move_ticket(number, "closed", actor="ana")
    return got


def test_third_ticket_in_30_days_escalates_and_links(factory):
    svc = AlertService(factory, clock=Clock())
    assert "repeat_failure" not in kinds(_fail_and_recover(svc, "u1", T0, "a"))
    assert "repeat_failure" not in kinds(_fail_and_recover(svc, "u1", T0 + 10 * DAY, "b"))
    third = _fail_and_recover(svc, "u1", T0 + 20 * DAY, "c")
    rep = next(c for c in third if c.kind == "repeat_failure")
    assert rep.detail["count"] == 3 and len(rep.detail["linked"]) == 2
    t = svc.get_ticket(rep.ticket)
    assert t["repeat_failure"] and t["escalation_level"] == 1
    assert sorted(link["ticket"] for link in t["links"]) == sorted(rep.detail["linked"])
    # another unit or another failure mode does not count; tickets older than 30 days drop out
    assert "repeat_failure" not in kinds(_fail_and_recover(svc, "u2", T0 + 20 * DAY, "d"))
    assert "repeat_failure" not in kinds(_fail_and_recover(svc, "u1", T0 + 20 * DAY, "e", "imbalance"))
    assert "repeat_failure" not in kinds(_fail_and_recover(svc, "u1", T0 + 70 * DAY, "f"))


def test_a_repeat_failure_raised_to_major_gets_the_major_clocks(factory):
    from alerts.config import AlertConfig

    svc = AlertService(factory, clock=Clock(), config=AlertConfig(ticket_min_state="watch"))
    for i, key in enumerate("ab"):
        svc.clock.t = T0 + i * DAY
        svc.handle_assessment("u1", assess("watch", T0 + i * DAY), source_key=key)
        number = svc.list_tickets(open_only=True)[0]["number"]
        for j in range(3):
            svc.handle_assessment("u1", assess("healthy", T0 + i * DAY + j + 1), source_key=f"{key}h{j}")
        svc.move_ticket(number, "closed", actor="ana")
    svc.clock.t = T0 + 2 * DAY
    got = svc.handle_assessment("u1", assess("watch", T0 + 2 * DAY), source_key="c")
    t = svc.get_ticket(next(c.ticket for c in got if c.kind == "repeat_failure"))
    assert t["grade"] == "major" and t["repeat_failure"]
    # the major clocks (8 h, 72 h) from its opening on 2026-11-04, not the minor ones (24 h, 240 h)
    assert (t["response_due"], t["resolution_due"]) == ("2026-11-04T08:00:00+00:00", "2026-11-07T00:00:00+00:00")
    assert ("regraded", {"before": "minor", "after": "major", "reason": "repeat_failure"}) in [
        (e["action"], e["detail"]) for e in t["audit"]]


def test_surge_ratio_uses_a_floor_for_an_empty_baseline():
    assert surge_ratio(recent=3, baseline=0, window_d=7, baseline_d=28, floor=0.5) == 6.0
    assert surge_ratio(recent=3, baseline=8, window_d=7, baseline_d=28, floor=0.5) == 1.5


def test_fleet_surge_opens_one_fleet_ticket_and_links_units(factory):
    units = {f"m{i}": {"model": "P-200", "firmware": f"1.{i % 2}", "batch": f"B{i}"} for i in range(10)}
    units["other"] = {"model": "Q-9"}
    svc = AlertService(factory, clock=Clock(), registry=FakeRegistry(units))
    # baseline: 4 units of P-200 over the trailing 28 days (1 per 7 days)
    for i in range(4):
        assert "fleet_ticket_opened" not in kinds(_fail_and_recover(svc, f"m{i}", T0 + DAY + i * 7 * DAY, f"b{i}"))
    now = T0 + 35 * DAY
    # recent: 1, then 2 units in a week = 2x baseline but under the 3-unit minimum
    assert "fleet_ticket_opened" not in kinds(_fail_and_recover(svc, "m4", now, "r4"))
    assert "fleet_ticket_opened" not in kinds(_fail_and_recover(svc, "other", now + 1, "ro"))
    assert "fleet_ticket_opened" not in kinds(_fail_and_recover(svc, "m5", now + 2, "r5"))
    got = _fail_and_recover(svc, "m6", now + 3, "r6")
    fleet = [c for c in got if c.kind == "fleet_ticket_opened"]
    assert [c.detail["group"] for c in fleet] == ["model:P-200"]
    assert fleet[0].detail["units"] == ["m4", "m5", "m6"] and fleet[0].detail["ratio"] == 3.0
    linked = _fail_and_recover(svc, "m7", now + 4, "r7")
    assert kinds(linked).count("fleet_ticket_opened") == 0 and "fleet_ticket_linked" in kinds(linked)
    ft = svc.get_ticket(fleet[0].ticket)
    assert ft["kind"] == "fleet" and ft["group_key"] == "model:P-200"
    assert len([link for link in ft["links"] if link["reason"] == "fleet"]) == 4


@pytest.mark.slow
def test_two_workers_at_once_never_duplicate(factory):
    """Two services (two caches, as two processes) get the same warnings at the same time."""
    workers = [AlertService(factory, clock=Clock()), AlertService(factory, clock=Clock())]
    devices = [f"c{i}" for i in range(8)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(svc: AlertService, tag: str) -> None:
        try:
            barrier.wait()
            for d in devices:
                svc.handle_assessment(d, assess("warning", T0), source_key=f"{d}:{tag}")
                svc.handle_assessment(d, assess("alarm", T0 + 1), source_key=f"{d}:{tag}:2")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w, str(i))) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with factory() as s:
        numbers = list(s.scalars(select(Ticket.number)))
        assert sorted(numbers) == [f"PF202611{i:03d}" for i in range(1, 9)]
        assert s.scalar(select(func.count()).select_from(Alert)) == 8
        assert set(s.scalars(select(Alert.severity))) == {"alarm"}
        assert set(s.scalars(select(Ticket.grade))) == {"critical"}
