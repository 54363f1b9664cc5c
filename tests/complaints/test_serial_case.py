"""A complaint naming its unit in another letter case ("p-0001" in a customer's email, typed by an agent) is
about unit P-0001: it joins P-0001's history (its open ticket, its warnings, its customer), stored under
the serial as registered. Before, it was refused ("unit 'p-0001' is not registered") although the serial
is registered; and ``--device p-0001`` on the service desk's lists found nothing."""

from __future__ import annotations

import json

import pytest

from alerts.complaint_desk import ComplaintDesk
from alerts.inbound import check_email
from foreshock.cli import main
from tests.alerts.helpers import T0, assess

pytestmark = pytest.mark.integration


def complaint(**kw) -> dict:
    base = {"contact": {"name": "Ann Lee", "email": "ann@acme.example"}, "device_id": "p-0001",
            "description": "Pump grinds loudly since this morning", "occurred_at": T0 + 7200, "request": "repair"}
    return {**base, **kw}


def test_a_complaint_naming_its_unit_in_another_letter_case_joins_the_units_history(service, clock):
    clock.t = T0
    service.handle_assessment("P-0001", assess("warning", T0), source_key="k1")
    proactive = service.list_tickets(device_id="P-0001")[0]
    clock.t = T0 + 3 * 3600
    desk = ComplaintDesk(service)
    out = desk.register(complaint(channel="phone"), actor="agent")
    assert out["device_id"] == "P-0001" and out["joined"] is True and out["ticket"] == proactive["number"]
    assert out["preceded_by_warning"] is True and out["warning_lead_s"] == 7200.0
    assert [a["failure_mode"] for a in out["evidence"]["alerts"]] == ["outer_race"]
    assert out["customer"] == "ACME" and out["flagged"] is False  # the unit's customer, entered by staff

    # no open ticket: it opens one for the unit as registered, with the unit's data
    opened = desk.register(complaint(device_id="p-0002", customer="ACME"), actor="agent")
    assert opened["device_id"] == "P-0002" and opened["joined"] is False and opened["site"] == "Bremen"
    ticket = service.get_ticket(opened["ticket"])
    assert ticket["device_id"] == "P-0002" and ticket["model"] == "P-200"
    # its third complaint joins the same ticket, whatever the case
    again = desk.register(complaint(device_id="P-0002", customer="ACME", description="Still grinding"), actor="a")
    assert again["joined"] is True and again["ticket"] == opened["ticket"]
    rows, count = desk.list_complaints(device_id="p-0002")
    assert count == 2 and {r["device_id"] for r in rows} == {"P-0002"}

    # an email that writes the serial in lower case
    mail = (b"From: Bo Chen <bo@globex.example>\r\nSubject: Fan shakes\r\nMessage-ID: <case-1@globex>\r\n"
            b"Date: Mon, 02 Nov 2026 01:00:00 +0000\r\n\r\nSerial: p-0003\r\nCustomer: Globex\r\n"
            b"Request: advice\r\nIt shakes.\r\n")
    mailed = desk.register(check_email(mail), actor="gateway")
    assert mailed["device_id"] == "P-0003" and mailed["customer"] == "Globex" and mailed["flagged"] is False

    with pytest.raises(ValueError, match="unit 'p-0404' is not registered"):
        desk.register(complaint(device_id="p-0404"), actor="agent")


def test_the_desk_lists_take_the_unit_in_any_letter_case_on_the_command_line(service, clock, db_url, monkeypatch,
                                                                             capsys):
    clock.t = T0
    service.handle_assessment("P-0001", assess("warning", T0), source_key="k1")
    clock.t = T0 + 3 * 3600
    ComplaintDesk(service).register(complaint(channel="phone"), actor="agent")
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    for command in (["alerts", "list"], ["tickets", "list"], ["complaints", "list"]):
        assert main([*command, "--device", "p-0001", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [r["device_id"] for r in rows] == ["P-0001"], command
        assert main([*command, "--device", "p-0404"]) == 0  # no unit has it: an empty list, as before
        assert capsys.readouterr().out.startswith("0 ")
