"""The monthly report counts a month of alerts and tickets; JSON and CSV; and the CLI around it."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from alerts.reports import field_precision, month_bounds, monthly_report, report_csv
from alerts.service import AlertService
from foreshock.cli import main
from tests.alerts.helpers import T0, Clock, FakeRegistry, assess

pytestmark = pytest.mark.integration
H = 3600.0

UNITS = {
    "a1": {"model": "P-200", "firmware": "1.4", "customer": "ACME"},
    "a2": {"model": "P-200", "firmware": "1.5", "customer": "ACME"},
    "b1": {"model": "Q-9", "firmware": "1.4", "customer": "Globex"},
}


def _history(factory) -> AlertService:
    """November: 4 unit tickets (3 outer race, 1 imbalance); one October ticket that must not count."""
    clock = Clock(T0 - 10 * 86400)  # 2026-10-23
    svc = AlertService(factory, clock=clock, registry=FakeRegistry(UNITS))
    svc.handle_assessment("b1", assess("warning", clock.t, "looseness"), source_key="oct")

    def ticket(dev, state, mode, t, key) -> str:
        clock.t = t
        return next(c.ticket for c in svc.handle_assessment(dev, assess(state, t, mode), source_key=key)
                    if c.kind == "ticket_opened")

    n1 = ticket("a1", "alarm", "outer_race", T0, "1")  # critical: 2 h response, 24 h resolution
    n2 = ticket("a2", "warning", "outer_race", T0 + H, "2")  # major: 8 h / 72 h
    n3 = ticket("b1", "warning", "outer_race", T0 + 2 * H, "3")
    n4 = ticket("a1", "warning", "imbalance", T0 + 3 * H, "4")
    clock.t = T0 + 1 * H
    svc.move_ticket(n1, "triaged", actor="ana")  # answered in 1 h: met
    svc.move_ticket(n1, "closed", actor="ana")  # resolved in 1 h: met
    svc.record_feedback(n1, "confirmed", actor="ana")
    clock.t = T0 + 11 * H
    svc.move_ticket(n2, "triaged", actor="ana")  # answered in 10 h: missed (8 h)
    svc.tick(T0 + 12 * H)  # n3 and n4 (due T0 + 10 h, T0 + 11 h) breach their response clocks
    clock.t = T0 + 13 * H
    svc.move_ticket(n3, "closed", actor="bo")
    svc.record_feedback(n3, "false_alarm", actor="bo", cause="sensor cable")
    _ = n4
    return svc


def test_monthly_report_counts_the_month(factory):
    _history(factory)
    r = monthly_report(factory, "2026-11")
    assert r["tickets"]["opened"] == 4 and r["tickets"]["closed"] == 2
    assert r["tickets"]["by_grade"] == {"critical": 1, "major": 3, "minor": 0}
    assert r["alerts"]["raised"] == 4
    assert r["top5_failure_modes"] == [{"failure_mode": "outer_race", "count": 3},
                                       {"failure_mode": "imbalance", "count": 1}]
    assert [(p["key"], p["count"], p["cumulative"]) for p in r["pareto"]["model"]] == [
        ("P-200", 3, 0.75), ("Q-9", 1, 1.0)]
    assert [p["key"] for p in r["pareto"]["customer"]] == ["ACME", "Globex"]
    # the failures: n3 (Q-9, Globex) was judged a false alarm, so it is in no TOP-5 or Pareto of failures
    assert r["tickets"]["false_alarms"] == 1 and r["tickets"]["different_fault_found"] == 0
    f = r["failures"]
    assert f["count"] == 3 and f["top5_failure_modes"] == [{"failure_mode": "outer_race", "count": 2},
                                                           {"failure_mode": "imbalance", "count": 1}]
    assert [(p["key"], p["count"], p["cumulative"]) for p in f["pareto"]["model"]] == [("P-200", 3, 1.0)]
    assert [p["key"] for p in f["pareto"]["customer"]] == ["ACME"]
    assert [p["key"] for p in r["pareto"]["firmware"]] == ["1.4", "1.5"]
    # responses: n1 1 h, n2 10 h, n3 11 h (closed unanswered); resolutions: n1 1 h, n3 11 h
    assert r["mtta_s"] == pytest.approx((1 + 10 + 11) / 3 * H)
    assert r["mttr_s"] == pytest.approx((1 + 11) / 2 * H)
    assert r["sla"]["all"]["response_met"] == 1 and r["sla"]["all"]["response_missed"] == 3
    assert r["sla"]["critical"]["response_compliance"] == 1.0
    # n2 answered 2 h late before any sweep flagged it: a breach in the table and in the total alike (was 2)
    assert r["tickets"]["sla_breaches"] == 3
    assert r["field_precision"]["all"] == {"confirmed": 1, "false_alarm": 1, "precision": 0.5}
    assert monthly_report(factory, "2026-10")["tickets"]["opened"] == 1
    assert field_precision(factory, since=month_bounds("2026-11")[0])["by_failure_mode"]["outer_race"][
        "precision"] == 0.5


def test_sla_breaches_and_the_sla_table_count_the_same_clocks_of_unit_and_fleet_tickets(factory):
    from alerts.tickets import open_ticket

    svc = _history(factory)  # unit tickets: 3 response clocks missed, none of resolution
    with factory.begin() as s:  # a fleet quality problem (major: 8 h / 72 h) nobody answers
        open_ticket(s, svc.config, now=T0 + 4 * H, failure_mode="outer_race", grade="major", kind="fleet",
                    group_key="model:P-200", unit={"model": "P-200"}, title="Fleet quality problem")
    svc.tick(T0 + 80 * H)  # fleet: both clocks run out; n2 and n4 run out of resolution time, too
    r = monthly_report(factory, "2026-11")
    sla = r["sla"]
    assert list(sla) == ["critical", "major", "minor", "unit", "fleet", "all"]
    def row(kind):
        return sla[kind]["tickets"], sla[kind]["response_missed"], sla[kind]["resolution_missed"]

    assert row("fleet") == (1, 1, 1) and row("unit") == (4, 3, 2)
    assert sla["all"]["tickets"] == r["tickets"]["opened"] + r["tickets"]["fleet_problems"] == 5
    assert sla["all"]["response_missed"] == 4 and sla["major"]["response_missed"] == 4
    total = sla["all"]["response_missed"] + sla["all"]["resolution_missed"]
    assert r["tickets"]["sla_breaches"] == total == 7
    rows = report_csv(r)
    assert "sla,fleet,response_missed,1" in rows and "tickets,sla_breaches,count,7" in rows


def test_field_precision_counts_foreshock_warnings_not_tickets_customers_opened(factory):
    from alerts.tickets import open_ticket

    svc = _history(factory)  # November: one confirmed warning, one false alarm
    with factory.begin() as s:
        t = open_ticket(s, svc.config, now=T0 + 20 * H, failure_mode="customer_reported", grade="major",
                        device_id="b1", title="Customer complaint: b1: it grinds")
        t.source = "customer"
        number = t.number
    svc.record_feedback(number, "confirmed", actor="bo", actual_failure_mode="outer race")
    r = monthly_report(factory, "2026-11")
    assert r["tickets"]["opened"] == 5  # the complaint's ticket is a ticket of the month ...
    assert r["field_precision"]["all"] == {"confirmed": 1, "false_alarm": 1, "precision": 0.5}  # ... not a warning
    assert "customer_reported" not in r["field_precision"]["by_failure_mode"]
    assert field_precision(factory)["all"]["precision"] == 0.5


def test_tickets_closed_without_verification_are_counted(factory):
    svc = _history(factory)  # n1 closed from 'triaged' (confirmed), n3 from 'received' as a false alarm
    assert monthly_report(factory, "2026-11")["tickets"]["closed_unverified"] == 1  # n1: the false alarm needs none
    svc.clock.t = T0 + 20 * H
    for state in ("investigating", "action_taken", "verifying", "closed"):
        svc.move_ticket("PF202611002", state, actor="ana")  # n2 through verification
    r = monthly_report(factory, "2026-11")["tickets"]
    assert (r["closed"], r["closed_unverified"]) == (3, 1)
    svc.move_ticket("PF202611002", "reopened", actor="ana")
    svc.move_ticket("PF202611002", "closed", actor="ana")  # closed again straight from 'reopened'
    assert monthly_report(factory, "2026-11")["tickets"]["closed_unverified"] == 2
    rows = report_csv(monthly_report(factory, "2026-11"))
    assert "tickets,closed_unverified,count,2" in rows


def test_csv_has_the_same_numbers(factory):
    _history(factory)
    rows = list(csv.DictReader(io.StringIO(report_csv(monthly_report(factory, "2026-11")))))
    get = {(r["section"], r["key"], r["metric"]): r["value"] for r in rows}
    assert get[("tickets", "opened", "count")] == "4"
    assert get[("top5", "outer_race", "count")] == "3"
    assert get[("pareto_model", "P-200", "share")] == "0.75"
    assert get[("failures_top5", "outer_race", "count")] == "2"  # n3 was a false alarm
    assert get[("tickets", "false_alarms", "count")] == "1"
    assert get[("failures_pareto_model", "P-200", "share")] == "1.0"
    assert get[("sla", "all", "response_missed")] == "3"


def test_bad_month_is_named():
    # "0000-01" and "9999-12" were "year 0 is out of range" / "year 10000 is out of range"; one message for all
    for month in ("2026-13", "0000-01", "9999-12", "2026-1", ""):
        with pytest.raises(ValueError, match=re.escape(
                f"month: expected YYYY-MM between 1970-01 and 2999-12 (e.g. 2026-11), got {month!r}")):
            month_bounds(month)
    assert month_bounds("1970-01")[0] == 0.0 and month_bounds("2999-12")[1] == 32503680000.0


def test_cli_tickets_and_report(factory, db_url, monkeypatch, capsys, tmp_path):
    _history(factory)
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    assert main(["tickets", "list", "--open"]) == 0
    out = capsys.readouterr().out
    assert "PF202611002" in out and "2 ticket(s)" not in out and "3 ticket(s)" in out
    assert main(["tickets", "move", "PF202611002", "investigating", "--by", "cy"]) == 0
    assert main(["tickets", "assign", "PF202611002", "--to", "cy", "--by", "lead"]) == 0
    assert main(["tickets", "comment", "PF202611002", "on site tomorrow", "--by", "cy"]) == 0
    capsys.readouterr()
    assert main(["tickets", "show", "PF202611002"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "investigating" and shown["assignee"] == "cy"
    assert [e["action"] for e in shown["audit"]][-3:] == ["moved", "assigned", "commented"]
    assert main(["tickets", "8d", "PF202611002", "d4", "grease contaminated by a failed seal", "--by", "cy"]) == 0
    assert main(["tickets", "8d", "PF202611002", "D5", '{"action": "seal replaced"}', "--json"]) == 0
    assert main(["tickets", "8d", "PF202611002", "D9", "x"]) == 2
    assert "unknown 8D discipline 'D9'" in capsys.readouterr().err
    assert main(["tickets", "8d", "PF202611002", "D5", "{not json", "--json"]) == 2
    assert "--json: the content is not valid JSON" in capsys.readouterr().err
    for content, json_flag in (("  ", []), ('"  "', ["--json"]), ("null", ["--json"]), ("{}", ["--json"])):
        assert main(["tickets", "8d", "PF202611002", "D4", content, *json_flag]) == 2, (content, json_flag)
        assert "8D D4: the content is empty" in capsys.readouterr().err
    eight_d = AlertService(factory).get_ticket("PF202611002")["eight_d"]
    assert eight_d["D4"] == "grease contaminated by a failed seal" and eight_d["D5"] == {"action": "seal replaced"}
    assert main(["tickets", "move", "PF202611002", "received", "--by", "cy"]) == 2
    assert "cannot move from investigating to received" in capsys.readouterr().err
    alert_id = next(a for a in AlertService(factory).list_alerts() if a["device_id"] == "a2")["id"]
    assert main(["alerts", "ack", str(alert_id), "--by", "cy"]) == 0
    assert main(["alerts", "list"]) == 0
    assert "acked by cy" in capsys.readouterr().out
    out_file = tmp_path / "nov.csv"
    assert main(["report", "monthly", "--month", "2026-11", "--format", "csv", "--out", str(out_file)]) == 0
    assert "tickets,opened,count,4" in out_file.read_text()
    for month in ("November", "2026-13", "0000-01"):  # the same message as the API's
        assert main(["report", "monthly", "--month", month]) == 2
        assert (f"error: month: expected YYYY-MM between 1970-01 and 2999-12 (e.g. 2026-11), got '{month}'"
                in capsys.readouterr().err)
    # an output path that cannot be written was exit code 1 with a bare "[Errno 2] No such file or directory"
    for out, why in ((tmp_path / "missing" / "nov.csv", "No such file or directory"), (tmp_path, "Is a directory")):
        assert main(["report", "monthly", "--month", "2026-11", "--out", str(out)]) == 2
        assert f"error: --out {out}: cannot write the report: {why}" in capsys.readouterr().err


def test_cli_lists_say_which_part_of_a_longer_list_they_show(factory, db_url, monkeypatch, capsys):
    # 'tickets list' and 'alerts list' printed the newest 200 and "200 ticket(s)", as if that were all
    _history(factory)  # 5 tickets (4 in November), 5 alerts
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    assert main(["tickets", "list", "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "5 ticket(s); shown: 1-2, newest first (--offset 2 for the next)"
    assert [line.split()[0] for line in out[:-1]] == ["PF202611004", "PF202611003"]
    assert main(["tickets", "list", "--limit", "2", "--offset", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "5 ticket(s); shown: 5-5, newest first" and out[0].startswith("PF202610001")
    assert main(["tickets", "list", "--open", "--json", "--limit", "1"]) == 0
    got = capsys.readouterr()
    assert len(json.loads(got.out)) == 1 and got.err.strip() == (
        "3 ticket(s); shown: 1-1, newest first (--offset 1 for the next)")
    assert main(["alerts", "list", "--all", "--limit", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "5 alert(s); shown: 1-3, newest first (--offset 3 for the next)")
    assert main(["alerts", "list", "--all"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "5 alert(s)"
    assert main(["tickets", "list", "--offset", "-1"]) == 2
    assert "--offset must be 0 or more, got -1" in capsys.readouterr().err


def test_the_month_is_the_report_time_zones(factory, db_url, monkeypatch, capsys):
    # A quality department in Berlin counts its own months: a ticket opened at 23:30 UTC on 31 October is
    # November there (00:30 CET), and one opened at 23:30 UTC on 30 November is December.
    oct31, nov30 = 1793489400.0, 1796081400.0  # 2026-10-31 23:30 UTC, 2026-11-30 23:30 UTC
    clock = Clock(oct31)
    svc = AlertService(factory, clock=clock, registry=FakeRegistry(UNITS))
    for dev, t in (("a1", oct31), ("b1", nov30)):
        clock.t = t
        svc.handle_assessment(dev, assess("warning", t, "outer_race"), source_key=dev)
    utc = monthly_report(factory, "2026-11")
    berlin = monthly_report(factory, "2026-11", timezone="Europe/Berlin")
    assert [r["key"] for r in utc["pareto"]["model"]] == ["Q-9"]  # b1's ticket only
    assert [r["key"] for r in berlin["pareto"]["model"]] == ["P-200"]  # a1's ticket only
    assert utc["timezone"] == "UTC" and berlin["timezone"] == "Europe/Berlin"
    assert berlin["period"] == {"start": "2026-11-01T00:00:00+01:00", "end": "2026-12-01T00:00:00+01:00"}
    assert "period,Europe/Berlin,start,2026-11-01T00:00:00+01:00" in report_csv(berlin)
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Berlinn'"):
        monthly_report(factory, "2026-11", timezone="Europe/Berlinn")

    # the CLI: the setting, the option over it, and a bad zone named
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    monkeypatch.setenv("FORESHOCK_ALERTS__REPORT_TIMEZONE", "Europe/Berlin")
    assert main(["report", "monthly", "--month", "2026-11"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["timezone"] == "Europe/Berlin" and r["pareto"]["model"][0]["key"] == "P-200"
    assert main(["report", "monthly", "--month", "2026-11", "--timezone", "UTC"]) == 0
    assert json.loads(capsys.readouterr().out)["pareto"]["model"][0]["key"] == "Q-9"
    assert main(["report", "monthly", "--month", "2026-11", "--timezone", "Mars/Olympus"]) == 2
    assert "unknown time zone 'Mars/Olympus'" in capsys.readouterr().err
    # without --month: the month it is now in the report's zone (was a usage error)
    assert main(["report", "monthly", "--timezone", "Pacific/Kiritimati"]) == 0
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo
    assert json.loads(capsys.readouterr().out)["month"] == \
        datetime.now(UTC).astimezone(ZoneInfo("Pacific/Kiritimati")).strftime("%Y-%m")
    monkeypatch.setenv("FORESHOCK_ALERTS__REPORT_TIMEZONE", "CEST")
    assert main(["report", "monthly", "--month", "2026-11"]) == 2
    err = capsys.readouterr().err
    assert "alerts.report_timezone" in err and "unknown time zone 'CEST'" in err, err
