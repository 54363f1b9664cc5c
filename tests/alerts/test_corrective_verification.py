"""Corrective actions verified against the data, as a quality manager reads the verdict.

The walk-through found: a ticket whose technician found a different fault was counted under the detector's
guess, a scope whose units were all decommissioned before the action got a stored "no unit-days yet"
verdict, units in scope that sent nothing since the action made it look effective, and an "effective"
verdict said the rate in scope "fell" when only the units outside the scope had failed more often.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from alerts.corrective import create_action, verify_action
from alerts.ratestats import compare_rates
from alerts.reports import monthly_report, report_csv
from alerts.service import AlertService
from devices.models import Unit
from tests.alerts.helpers import T0, Clock, open_ticket_for, recover

pytestmark = pytest.mark.integration
H, DAY = 3600.0, 86400.0


@pytest.fixture
def registry(factory):
    from devices.registry import Registry
    from foreshock.db import Base, import_models

    import_models()
    with factory.begin() as s:  # the alerts fixture empties only the alert tables
        for table in reversed(Base.metadata.sorted_tables):
            if table.name.startswith("device_") and s.bind.dialect.has_table(s.connection(), table.name):
                s.execute(table.delete())
    reg = Registry(factory)
    reg.create_model("P-200", rated_rpm=1480.0)
    installed = dt.date(2026, 1, 1)
    for i in range(1, 9):
        reg.create_unit(f"P-{i:04d}", model="P-200", batch="B7" if i <= 4 else "B8", install_date=installed)
    return reg


def _action(factory, svc, **kw):
    with factory.begin() as s:
        a = create_action(s, title="new bearing supplier", scope={"batch": "B7"}, applied_at=T0, now=svc.clock(),
                          actor="eng", failure_modes=["outer_race"], baseline_d=60, **kw)
        return a.id


def _verify(factory, svc, action_id, registry):
    from alerts.models import CorrectiveAction

    with factory.begin() as s:
        return verify_action(s, s.get(CorrectiveAction, action_id), registry=registry, now=svc.clock())


def test_verification_counts_the_fault_found_on_site(factory, registry):
    svc = AlertService(factory, clock=Clock(T0 - 30 * DAY), registry=registry)
    before = open_ticket_for(svc, "P-0001", "inner_race", T0 - 30 * DAY, "b1")  # found: outer race, the action's mode
    svc.record_feedback(before, "confirmed", actor="ana", actual_failure_mode="outer_race")
    sham = open_ticket_for(svc, "P-0002", "outer_race", T0 - 20 * DAY, "b2")
    svc.record_feedback(sham, "false_alarm", actor="ana")
    svc.clock.t = T0 + 30 * DAY
    aid = _action(factory, svc)
    v = _verify(factory, svc, aid, registry)
    assert v["counts"]["before_in"][0] == 1.0  # the inner-race ticket that was an outer race; not the false alarm
    assert "in scope 1 failure in 240 unit-days" in v["statement"]
    # the monthly report shows the last verdict with when it was computed (it may be weeks old)
    [shown] = monthly_report(factory, "2026-12")["corrective_actions"]
    assert shown["verified_at"] == "2026-12-02T00:00:00+00:00" and shown["statement"] == v["statement"]
    assert f"corrective_action,{aid},verified_at,2026-12-02T00:00:00+00:00" in report_csv(
        monthly_report(factory, "2026-12"))
    svc.close()


def test_verification_of_a_scope_whose_units_were_all_decommissioned_before_the_action_is_refused(factory, registry):
    svc = AlertService(factory, clock=Clock(T0 + 30 * DAY), registry=registry)
    aid = _action(factory, svc)
    with factory.begin() as s:
        s.execute(update(Unit).where(Unit.batch == "B7")
                  .values(decommissioned_at=dt.datetime.fromtimestamp(T0 - DAY, dt.UTC)))
    with pytest.raises(ValueError, match=r"every unit in the scope of corrective action \d+ \(batch B7\) was "
                                         r"decommissioned before the action was applied \(2026-11-02T00:00:00\+00:00\)"):
        _verify(factory, svc, aid, registry)
    svc.close()


def test_an_effective_verdict_warns_of_units_in_scope_that_sent_nothing_since_the_action(factory, registry):
    """A firmware update that silenced the units' telemetry looked like one that stopped their failures."""
    svc = AlertService(factory, clock=Clock(T0 - 55 * DAY), registry=registry)

    def failure(dev: str, t: float, key: str) -> None:
        svc.move_ticket(open_ticket_for(svc, dev, "outer_race", t, key), "closed", actor="ana")  # repaired
        recover(svc, dev, t + H, key)

    for i in range(20):  # 20 outer-race failures of batch B7 before the action, then none: the units went quiet
        failure(f"P-000{1 + i % 4}", T0 - 55 * DAY + i * 2.5 * DAY, f"f{i}")
    for j in range(4):  # the other batch fails as before, after the action too
        failure(f"P-000{5 + j}", T0 - 30 * DAY + j * H, f"o{j}")
        failure(f"P-000{5 + j}", T0 + 20 * DAY + j * H, f"p{j}")
    svc.clock.t = T0 + 60 * DAY
    with factory.begin() as s:
        s.execute(update(Unit).values(last_seen_ms=int((T0 + 60 * DAY - H) * 1000)))
        s.execute(update(Unit).where(Unit.device_id.in_(["P-0001", "P-0002"]))
                  .values(last_seen_ms=int((T0 - DAY) * 1000)))
    aid = _action(factory, svc)
    v = _verify(factory, svc, aid, registry)
    assert v["verdict"] == "effective"
    assert v["units_in_scope_unheard"] == ["P-0001", "P-0002"] and v["units_out_of_scope_unheard"] == 0
    assert ("caution: 2 of the 4 units in scope (P-0001, P-0002) have sent no data since the action"
            in v["statement"])
    svc.close()


def test_an_effective_verdict_says_when_the_rate_in_scope_did_not_fall_itself():
    # in scope 10 before and 10 after in equal unit-days; outside the scope the failures tripled
    r = compare_rates(before_in=(10, 1000), after_in=(10, 1000), before_out=(20, 4000), after_out=(80, 4000))
    assert r.verdict == "effective"
    assert "the rate in scope itself did not fall, the verdict rests on the rate outside the scope rising" in r.statement
    assert ("in scope 10 failures in 1,000 unit-days (10 per 1,000) before, 10 failures in 1,000 unit-days "
            "(10 per 1,000) after") in r.statement


def test_the_counts_in_words_read_without_exponents():
    # a verification asked for the day after the action: 2 failures in 2 unit-days read "9.2e+02 per 1,000"
    r = compare_rates(before_in=(0, 90), after_in=(2, 2.17), before_out=(0, 90), after_out=(0, 2.17))
    assert "in scope 0 failures in 90 unit-days (0 per 1,000) before, 2 failures in 2 unit-days (922 per 1,000)" \
        in r.statement and "e+" not in r.statement


def test_one_unit_that_sent_nothing_is_named_in_the_singular(factory, registry):
    svc = AlertService(factory, clock=Clock(T0 + 10 * DAY), registry=registry)
    with factory.begin() as s:
        s.execute(update(Unit).values(last_seen_ms=int((T0 + 10 * DAY - H) * 1000)))
        s.execute(update(Unit).where(Unit.device_id == "P-0004").values(last_seen_ms=None))  # never reported
    v = _verify(factory, svc, _action(factory, svc), registry)
    assert v["units_in_scope_unheard"] == ["P-0004"]
    assert "caution: 1 of the 4 units in scope (P-0004) has sent no data since the action, so Foreshock could not " \
           "warn of its failures and its unit-days count as failure-free" in v["statement"]
    svc.close()


def test_a_unit_without_an_install_date_counts_from_its_registration(factory, registry):
    """A unit registered a day before the action, with no install date, counted 60 unit-days before it (the whole
    baseline): the demo showed 180 unit-days 'before' for units one day old, a rate before the action made to look
    lower than it was. It counts from its registration; a unit with an install date still from that date."""
    svc = AlertService(factory, clock=Clock(T0 + 10 * DAY), registry=registry)
    registered = dt.datetime.fromtimestamp(T0 - DAY, dt.UTC)
    with factory.begin() as s:
        s.execute(update(Unit).where(Unit.batch == "B7").values(install_date=None, created_at=registered))
        s.execute(update(Unit).where(Unit.batch == "B8").values(created_at=registered))  # installed 2026-01-01
    v = _verify(factory, svc, _action(factory, svc), registry)
    assert v["counts"]["before_in"] == [0.0, 4.0]  # 4 units, 1 day each since registration
    assert v["counts"]["before_out"] == [0.0, 240.0]  # 4 units, the whole 60-day baseline since installation
    assert v["counts"]["after_in"] == [0.0, 40.0] and v["counts"]["after_out"] == [0.0, 40.0]
    svc.close()
