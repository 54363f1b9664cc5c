"""The acknowledgement of a complaint goes through the notification outbox: a mail server that is down for a
while delays it, the retry sends it and only then is the ticket's response clock answered; one that stays down
leaves a failed delivery (a dead letter) and a failed log entry, and the clock running. It was sent once, and a
failure was never retried."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from alerts.complaint_desk import ComplaintDesk
from alerts.config import AlertConfig, SmtpConfig
from alerts.models import Delivery
from alerts.notify import Notifier
from tests.alerts.helpers import T0
from tests.alerts.receivers import WAIT_S
from tests.complaints.test_complaints import complaint

pytestmark = pytest.mark.integration


def _notifier(service, smtp, **kw) -> Notifier:
    cfg = AlertConfig(smtp=SmtpConfig(host="127.0.0.1", port=smtp.port, sender="quality@foreshock.example"),
                      retry_base_s=0.05, poll_s=0.2, **kw)
    service.notifier = Notifier(service.session_factory, cfg)
    service.notifier.start()
    return service.notifier


def _settled(factory) -> list[Delivery]:
    deadline = time.monotonic() + WAIT_S
    while True:
        with factory() as s:
            rows = list(s.scalars(select(Delivery).order_by(Delivery.id)))
        if rows and all(d.status in ("sent", "failed") for d in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def _ack(desk, number: str) -> dict:
    (m,) = [m for m in desk.communication(number)["messages"] if m["kind"] == "acknowledgement"]
    return m


def test_an_acknowledgement_the_mail_server_refused_is_retried_and_then_answers_the_clock(service, clock, smtp):
    smtp.fail_next = 2  # down for two attempts, then back
    _notifier(service, smtp)
    clock.t = T0 + 3 * 3600
    desk = ComplaintDesk(service)
    out = desk.register(complaint(device_id="P-0002"), actor="agent")
    assert out["acknowledgement"][0]["status"] == "pending"
    assert smtp.wait_for(1)
    (d,) = _settled(service.session_factory)
    assert (d.event, d.status, d.attempts, d.route_id, d.target) == (
        "customer.acknowledgement", "sent", 3, None, "ann@acme.example")
    assert smtp.refused == 2 and len(smtp.messages) == 1
    rcpt, msg = smtp.messages[0]
    assert rcpt == ["ann@acme.example"]
    assert msg["Subject"] == f"[{out['ticket']}] We have received your complaint"
    assert msg["X-Foreshock-Ticket"] == out["ticket"]
    assert f"registered it as {out['ticket']}" in msg.get_payload(decode=True).decode()
    ack = _ack(desk, out["ticket"])
    assert ack["status"] == "sent" and ack["error"] is None
    ticket = service.get_ticket(out["ticket"])
    assert ticket["responded_at"] is not None  # answered by the retry that reached the customer
    sent = [e for e in ticket["audit"] if e["action"] == "customer_message" and e["detail"].get("sent")]
    assert [(e["detail"]["attempts"], e["detail"]["delivery"]) for e in sent] == [(3, d.id)]


def test_an_acknowledgement_that_never_gets_through_is_a_failed_delivery_and_the_clock_runs(service, clock, smtp):
    smtp.fail_next = 100
    _notifier(service, smtp, max_attempts=3)
    clock.t = T0 + 3 * 3600
    desk = ComplaintDesk(service)
    out = desk.register(complaint(device_id="P-0002"), actor="agent")
    (d,) = _settled(service.session_factory)
    assert (d.status, d.attempts) == ("failed", 3) and "SMTP 451" in d.last_error
    ack = _ack(desk, out["ticket"])
    assert ack["status"] == "failed" and "SMTP 451" in ack["error"]
    assert service.get_ticket(out["ticket"])["responded_at"] is None


def test_a_flagged_contact_s_receipt_goes_through_the_outbox_and_answers_no_clock(service, clock, smtp):
    _notifier(service, smtp)
    clock.t = T0 + 3 * 3600
    desk = ComplaintDesk(service)
    out = desk.register(complaint(device_id="P-0002", customer="Evil Corp",
                                  contact={"email": "eve@evil.example"}, channel="email"), actor="gateway")
    assert smtp.wait_for(1)
    (d,) = _settled(service.session_factory)
    assert d.status == "sent" and "X-Foreshock-Ticket" not in smtp.messages[0][1]
    assert smtp.messages[0][1]["Subject"] == f"[complaint {out['id']}] We have received your complaint"
    assert _ack(desk, out["ticket"])["status"] == "sent"
    assert service.get_ticket(out["ticket"])["responded_at"] is None
