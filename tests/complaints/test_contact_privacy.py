"""A ticket's customer-facing messages go only to contacts tied to the unit's registered customer.

The security review found that anyone who e-mailed `Serial: P-0001` joined ACME's open ticket and then
received every progress message and answer of it, and that ACME's contact got a second acknowledgement
each time somebody else's complaint joined. A complaint that cannot be tied to the unit's customer is
still registered on the ticket (nothing the customer reports is lost) but flagged for the staff, and its
sender hears only that the report was received.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.complaint_desk import ComplaintDesk
from alerts.inbound import check_email
from tests.alerts.helpers import T0

pytestmark = pytest.mark.integration


def acme(**kw) -> dict:
    base = {"customer": "ACME", "contact": {"name": "Ann Lee", "email": "ann@acme.example"},
            "device_id": "P-0001", "description": "Pump grinds loudly since this morning",
            "occurred_at": T0 + 7200, "request": "repair"}
    return {**base, **kw}


def mail(sender: str, *lines: str, ref: str = "m1") -> bytes:
    occurred = datetime.fromtimestamp(T0 + 7200, UTC).isoformat()
    body = "\r\n".join(("Serial: P-0001", "Request: repair", f"Occurred: {occurred}", *lines, "It is noisy."))
    return (f"From: {sender}\r\nSubject: Pump noisy\r\nMessage-ID: <{ref}@x>\r\n"
            f"Date: Fri, 20 Nov 2026 08:00:00 +0000\r\n\r\n{body}\r\n").encode()


def rcpts(smtp, n: int) -> list[tuple[str, str]]:
    assert smtp.wait_for(n)
    return [(r[0], m["Subject"]) for r, m in smtp.messages]


def test_an_outsider_mailing_the_serial_gets_only_a_receipt_and_is_flagged(service, clock, smtp):
    clock.t = T0 + 3 * 3600
    desk = ComplaintDesk(service)
    number = desk.register(acme(), actor="agent")["ticket"]
    out = desk.register(check_email(mail("Eve <evil@example.com>")), actor="mail-gateway")
    assert out["ticket"] == number and out["joined"] is True  # registered, on the unit's ticket
    # Eve's receipt names no ticket and promises nothing about it; Ann got no second acknowledgement
    sent = rcpts(smtp, 2)
    assert [r for r, _ in sent] == ["ann@acme.example", "evil@example.com"]
    eve = smtp.messages[1][1]
    assert number not in eve["Subject"] and number not in eve.get_payload(decode=True).decode()
    assert "check the unit's records" in eve.get_payload(decode=True).decode() and eve["X-Foreshock-Ticket"] is None
    desk.message(number, "progress", text="A technician comes on Monday.", actor="maria")
    desk.message(number, "answer", text="We replaced the bearing.", actor="maria")
    sent = rcpts(smtp, 4)
    assert [r for r, s in sent if "Progress" in s or "answer" in s] == ["ann@acme.example"] * 2
    service.move_ticket(number, "closed", actor="maria", note="bearing replaced")
    desk.message(number, "follow_up", actor="maria")
    assert [r for r, _ in rcpts(smtp, 5)][4:] == ["ann@acme.example"]
    # the staff see the flag on the ticket and in the complaint
    assert out["flagged"] is True and "evil@example.com" in out["flag_reason"] and "'ACME'" in out["flag_reason"]
    log = desk.communication(number)
    assert [c["flagged"] for c in log["complaints"]] == [False, True]
    audit = service.get_ticket(number)["audit"]
    flagged = [e for e in audit if e["action"] == "complaint_flagged"]
    assert len(flagged) == 1 and flagged[0]["detail"]["complaint_id"] == out["id"]
    assert "evil@example.com" in flagged[0]["detail"]["reason"]
    assert sum(1 for m in log["messages"] if m["address"] == "evil@example.com") == 1


def test_a_webhook_complaint_naming_another_customer_is_flagged(service, clock, smtp):
    clock.t = T0 + 3 * 3600
    desk = ComplaintDesk(service)
    number = desk.register(acme(), actor="agent")["ticket"]
    out = desk.register(acme(channel="webhook", customer="Evil Corp", contact={"email": "boss@evil.example"}),
                        actor="crm")
    desk.message(number, "progress", text="A technician comes on Monday.", actor="maria")
    assert [r for r, s in rcpts(smtp, 3) if "Progress" in s] == ["ann@acme.example"]
    assert out["ticket"] == number and out["flagged"] is True
    assert "'Evil Corp'" in out["flag_reason"] and "'ACME'" in out["flag_reason"]


def test_complaints_tied_to_the_units_customer_get_the_ticket_messages(service, clock, smtp):
    clock.t = T0 + 3 * 3600
    desk = ComplaintDesk(service)
    # staff enter it by phone without naming the customer: the unit's, vouched for by the agent
    number = desk.register(acme(channel="phone", customer=None, contact={"email": "bob@acme.example"}),
                           actor="agent")["ticket"]
    # an email naming the customer (letter case and spaces aside)
    named = desk.register(check_email(mail("carl@acme.example", "Customer:  acme ", ref="m2")), actor="gw")
    # an email from a contact the customer already had, naming nobody
    known = desk.register(check_email(mail("bob@acme.example", ref="m3")), actor="gw")
    assert [named["flagged"], known["flagged"]] == [False, False] and named["ticket"] == known["ticket"] == number
    desk.message(number, "progress", text="A technician comes on Monday.", actor="maria")
    progress = [r for r, s in rcpts(smtp, 5) if "Progress" in s]
    assert sorted(progress) == ["bob@acme.example", "carl@acme.example"]  # bob once
    assert not any(c["flagged"] for c in desk.communication(number)["complaints"])


def test_a_ticket_with_only_flagged_complaints_refuses_customer_messages_by_name(service, clock, smtp):
    clock.t = T0 + 3 * 3600
    desk = ComplaintDesk(service)
    out = desk.register(check_email(mail("evil@example.com")), actor="gw")
    refused = rf"no contact tied to the unit's customer 'ACME': its complaints are flagged \({out['id']}: "
    with pytest.raises(ValueError, match=refused):
        desk.message(out["ticket"], "progress", text="A technician comes on Monday.", actor="maria")
    assert service.get_ticket(out["ticket"])["responded_at"] is None  # a receipt to an outsider answers nothing
    assert out["joined"] is False and out["flagged"] is True
    # a complaint naming another customer opens the ticket for the unit's customer, keeping what it said
    other = desk.register(acme(device_id="P-0002", customer="Evil Corp", contact={"email": "boss@evil.example"}),
                          actor="crm")
    assert service.get_ticket(other["ticket"])["customer"] == "ACME" and other["customer"] == "Evil Corp"
