"""Notifications to a local HTTP receiver and a local SMTP server: signing, routing, retries, durability."""

from __future__ import annotations

import json
import socket
import time

import pytest
from sqlalchemy import select

from alerts.config import AlertConfig, RouteConfig, SmtpConfig
from alerts.models import Delivery, Route
from alerts.notify import Notifier, verify
from alerts.service import AlertService
from tests.alerts.helpers import T0, Clock, FakeRegistry, assess
from tests.alerts.receivers import SmtpSink, WebhookSink

pytestmark = pytest.mark.integration
SECRET = "hook-secret"


@pytest.fixture
def webhook():
    sink = WebhookSink()
    yield sink
    sink.close()


@pytest.fixture
def smtp():
    sink = SmtpSink()
    yield sink
    sink.close()


def _config(smtp_port: int = 1, **kw) -> AlertConfig:
    return AlertConfig(retry_base_s=0.05, poll_s=0.2, smtp=SmtpConfig(port=smtp_port), **kw)


def _deliveries(factory) -> list[Delivery]:
    with factory() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


def _wait_settled(factory, timeout: float = 60.0) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _deliveries(factory)
        if rows and all(d.status in ("sent", "failed") for d in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"deliveries still pending: {[(d.id, d.status, d.last_error) for d in rows]}")


def test_route_validation_names_the_problem(factory):
    n = Notifier(factory)
    with pytest.raises(ValueError, match="channel must be one of"):
        n.add_route(name="x", channel="sms", target="+4912345")
    with pytest.raises(ValueError, match="needs a secret"):
        n.add_route(name="x", channel="webhook", target="http://127.0.0.1/h")
    with pytest.raises(ValueError, match="http\\(s\\) URL"):
        n.add_route(name="x", channel="webhook", target="ftp://h", secret="s")
    with pytest.raises(ValueError, match="min_grade"):
        n.add_route(name="x", channel="email", target="a@b", min_grade="urgent")
    n.close()


def test_webhook_and_email_delivered_signed_and_routed(factory, webhook, smtp):
    notifier = Notifier(factory, _config(smtp.port))
    notifier.add_route(name="acme-hook", channel="webhook", target=webhook.url, secret=SECRET, customer="ACME")
    notifier.add_route(name="oncall", channel="email", target="oncall@example.com", min_grade="major",
                       events="ticket.*,alert.escalated")
    notifier.add_route(name="other-customer", channel="email", target="x@example.com", customer="Globex")
    reg = FakeRegistry({"u1": {"customer": "ACME", "model": "P-200", "site": "s1"}})
    svc = AlertService(factory, registry=reg, notifier=notifier, clock=Clock())
    notifier.start()
    try:
        svc.handle_assessment("u1", assess("watch", T0), source_key="a")  # minor: webhook only
        svc.handle_assessment("u1", assess("warning", T0 + 1), source_key="b")  # escalated + ticket.opened
        assert webhook.wait_for(3) and smtp.wait_for(2)
        rows = _wait_settled(factory)
    finally:
        notifier.close()
    assert [(d.channel, d.event, d.status) for d in rows] == [
        ("webhook", "alert.raised", "sent"), ("webhook", "alert.escalated", "sent"),
        ("email", "alert.escalated", "sent"), ("webhook", "ticket.opened", "sent"), ("email", "ticket.opened", "sent"),
    ]
    headers, body = webhook.requests[0]
    assert verify(SECRET, headers["X-Foreshock-Timestamp"], body, headers["X-Foreshock-Signature"])
    assert not verify("other", headers["X-Foreshock-Timestamp"], body, headers["X-Foreshock-Signature"])
    doc = json.loads(body)
    assert doc["event"] == "alert.raised" and doc["data"]["device_id"] == "u1" and doc["data"]["grade"] == "minor"
    subjects = sorted(m["Subject"] for _, m in smtp.messages)
    assert subjects == ["[Foreshock] alert.escalated: u1 outer_race major",
                        "[Foreshock] ticket.opened: PF202611001 u1 outer_race major"]
    assert smtp.messages[0][0] == ["oncall@example.com"]


def test_every_event_carries_its_grade_in_the_data_and_the_mail_subject(factory, webhook, smtp):
    """The grade a route is matched on was left out of a 'unit silent' notification (and of a complaint's):
    its mail said '[Foreshock] unit.silent: u1', its webhook data had no grade to sort the desk's queue by."""
    notifier = Notifier(factory, _config(smtp.port))
    notifier.add_route(name="hook", channel="webhook", target=webhook.url, secret=SECRET)
    notifier.add_route(name="desk", channel="email", target="desk@example.com")
    reg = FakeRegistry({"u1": {"customer": "ACME", "model": "P-200", "site": "s1"}})
    svc = AlertService(factory, registry=reg, notifier=notifier, clock=Clock())
    reg.silent = ["u1"]
    notifier.start()
    try:
        assert [c.kind for c in svc.tick(now=T0)] == ["unit_silent"]
        assert webhook.wait_for(1) and smtp.wait_for(1)
        _wait_settled(factory)
    finally:
        notifier.close()
    doc = json.loads(webhook.requests[0][1])
    assert doc["event"] == "unit.silent" and doc["data"]["grade"] == "minor"
    assert [m["Subject"] for _, m in smtp.messages] == ["[Foreshock] unit.silent: u1 minor"]


def test_a_silent_unit_heard_from_again_is_notified_as_its_alert_cleared(factory):
    """'unit.silent' went out, but nothing when the unit reported again: the desk kept chasing a unit that was
    back. Its alert's clear is notified as every other alert's is (alert.cleared, failure mode silent)."""
    notifier = Notifier(factory, _config())
    notifier.add_route(name="desk", channel="email", target="desk@example.com")
    reg = FakeRegistry({"u1": {"customer": "ACME", "model": "P-200", "site": "s1"}})
    svc = AlertService(factory, registry=reg, notifier=notifier, clock=Clock())
    reg.silent = ["u1"]
    assert [c.kind for c in svc.tick(now=T0)] == ["unit_silent"]
    reg.silent = []
    assert [c.kind for c in svc.tick(now=T0 + 60)] == ["alert_cleared"]
    rows = _deliveries(factory)
    assert [(d.event, d.payload["device_id"], d.payload.get("failure_mode"), d.payload["grade"]) for d in rows] == [
        ("unit.silent", "u1", None, "minor"), ("alert.cleared", "u1", "silent", "minor")]
    assert rows[1].payload["alert_id"] == rows[0].payload["alert_id"]


def test_retries_with_backoff_until_delivered(factory, webhook):
    notifier = Notifier(factory, _config())
    notifier.add_route(name="hook", channel="webhook", target=webhook.url, secret=SECRET)
    webhook.fail_next = 2
    with factory.begin() as s:
        notifier.enqueue(s, "alert.raised", {"device_id": "u1"}, grade="major")
    notifier.start()
    try:
        assert webhook.wait_for(1)
        (row,) = _wait_settled(factory)
    finally:
        notifier.close()
    assert (row.status, row.attempts, row.response_code) == ("sent", 3, 200)
    assert notifier.stats["retried"] == 2


def test_gives_up_after_max_attempts_and_logs_the_error(factory):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"  # nothing listens here
    notifier = Notifier(factory, _config(max_attempts=3))
    notifier.add_route(name="dead", channel="webhook", target=dead, secret=SECRET)
    with factory.begin() as s:
        notifier.enqueue(s, "alert.raised", {"device_id": "u1"}, grade="major")
    notifier.start()
    try:
        (row,) = _wait_settled(factory)
    finally:
        notifier.close()
    assert (row.status, row.attempts) == ("failed", 3)
    assert "ConnectError" in row.last_error


def test_pending_deliveries_survive_a_restart(factory, webhook):
    first = Notifier(factory, _config())
    first.add_route(name="hook", channel="webhook", target=webhook.url, secret=SECRET)
    svc = AlertService(factory, notifier=first, clock=Clock())  # worker never started: a crash
    svc.handle_assessment("u1", assess("alarm", T0), source_key="a")
    assert {d.status for d in _deliveries(factory)} == {"pending"}
    assert webhook.requests == []
    first.close()
    second = Notifier(factory, _config())
    second.start()
    try:
        assert webhook.wait_for(2)
        rows = _wait_settled(factory)
    finally:
        second.close()
    assert [(d.event, d.status) for d in rows] == [("alert.raised", "sent"), ("ticket.opened", "sent")]
    assert len(webhook.requests) == 2  # each exactly once


def test_routes_from_config_are_synced_by_name(factory, webhook):
    def cfg(grade: str) -> AlertConfig:
        return _config(routes=[RouteConfig(name="cfg-hook", channel="webhook", target=webhook.url, secret=SECRET,
                                           min_grade=grade)])

    first = Notifier(factory, cfg("minor"))
    first.start()
    first.close()
    second = Notifier(factory, cfg("critical"))
    assert second.sync_routes() == 1
    with factory() as s:
        routes = list(s.scalars(select(Route)))
    assert [(r.name, r.min_grade) for r in routes] == [("cfg-hook", "critical")]
    with pytest.raises(ValueError, match="'cfg-hook' already exists"):
        second.add_route(name="cfg-hook", channel="email", target="a@b.example")
    second.close()


def test_flapping_alerts_are_not_notified(factory, webhook):
    notifier = Notifier(factory, _config())
    notifier.add_route(name="hook", channel="webhook", target=webhook.url, secret=SECRET)
    svc = AlertService(factory, notifier=notifier, clock=Clock())
    for i in range(3):
        svc.handle_assessment("u1", assess("watch", T0 + i * 60), source_key=f"w{i}")
        for j in range(3):
            svc.handle_assessment("u1", assess("healthy", T0 + i * 60 + j + 1), source_key=f"h{i}{j}")
    events = [d.event for d in _deliveries(factory)]
    assert events == ["alert.raised", "alert.cleared"] * 2  # the third raise and clear are flapping
    notifier.close()


def test_a_database_outage_is_one_log_line_per_pass_not_a_traceback(factory, caplog):
    """The worker polls every few seconds: during an outage it logged a full traceback each time."""
    import logging

    from sqlalchemy.exc import OperationalError

    notifier = Notifier(factory, _config())
    calls = []

    def down() -> None:
        calls.append(1)
        if len(calls) > 2:
            notifier._stop.set()
        notifier.wake()  # the next pass at once, not after poll_s
        raise OperationalError("SELECT 1", {}, Exception("connection to server at \"db\" failed: refused"))

    notifier.deliver_due = down
    with caplog.at_level(logging.ERROR, logger="alerts.notify"):
        notifier._run()
    lines = [r for r in caplog.records if "notification worker pass failed" in r.getMessage()]
    assert len(lines) == len(calls) >= 2
    assert all(r.exc_info is None and "database unavailable (OperationalError" in r.getMessage() for r in lines)


def test_a_route_taken_out_of_the_settings_is_disabled_and_a_bad_one_refused_when_they_load(factory, monkeypatch):
    """A route removed from foreshock.toml stayed enabled and kept getting deliveries; a route of an
    unknown channel passed every command and was a traceback when `foreshock run` started the notifier."""
    from alerts.models import Route
    from foreshock.settings import SettingsError, load_settings

    desk = {"name": "desk", "channel": "email", "target": "q@example.com"}
    hook = {"name": "hook", "channel": "webhook", "target": "https://example.com/h", "secret": "s"}
    Notifier.from_settings(load_settings(alerts={"routes": [desk, hook]}), factory).close()
    Notifier.from_settings(load_settings(alerts={"routes": [hook]}), factory).close()
    with factory() as s:
        assert {r.name: r.enabled for r in s.query(Route)} == {"desk": False, "hook": True}
    Notifier.from_settings(load_settings(alerts={"routes": [desk, hook]}), factory).close()  # put back: enabled
    with factory() as s:
        assert {r.name: r.enabled for r in s.query(Route)} == {"desk": True, "hook": True}
    for bad, says in (({**desk, "channel": "slack"}, "route channel must be one of webhook, email, got 'slack'"),
                      ({**hook, "secret": None}, "a webhook route needs a secret"),
                      ({**desk, "target": "desk"}, "email target must be one or more addresses"),
                      ({**desk, "colour": "red"}, "colour"),
                      ({**desk, "min_grade": "urgent"}, "route min_grade must be one of")):
        with pytest.raises(SettingsError, match="alerts.routes") as err:
            load_settings(alerts={"routes": [bad]})
        assert says in str(err.value), str(err.value)
    with pytest.raises(SettingsError, match="route name\\(s\\) given twice: desk"):
        load_settings(alerts={"routes": [desk, desk]})
