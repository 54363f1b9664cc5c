"""The service team's closed loop, through the real broker and the lead's pipeline.

Units publish vibration snapshots to Mosquitto; ``foreshock.service.Pipeline`` ingests them, runs
the detectors and hands every assessment to the alert service. We see: the alert raise and
escalate (unit A's growing outer-race fault) and clear (unit B's short fault, then healthy
snapshots); the tickets with their clocks (an SLA breach on tick) and states; the webhook at a
local HTTP receiver and the email at a local SMTP server; a repeat failure (unit B's third
outer-race ticket in 30 days) and a fleet surge (a third unit of the model within a week); and
the monthly report counting it all.

Unit B's two earlier failures and unit C's are given to the pipeline as assessments
(``Pipeline.handle_assessment``, the entry the detection stage uses): history, not the subject.
"""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from alerts.config import AlertConfig, SmtpConfig
from alerts.notify import Notifier, verify
from alerts.reports import monthly_report
from alerts.service import AlertService
from detectors.types import Assessment
from devices import protocol as p
from foreshock.service import Pipeline, PipelineOptions
from foreshock.settings import load_settings
from tests.alerts.receivers import SmtpSink, WebhookSink
from tests.pump_signal import BEARING, FS, RPM, snapshot
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SECRET = "closed-loop-secret"
FLOW = ("triaged", "investigating", "action_taken", "verifying", "closed")


class Device:
    """A unit publishing with QoS 1, waiting for the broker's acknowledgement of each message."""

    def __init__(self, port: int, client_id: str) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(60)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def sinks():
    hook, mail = WebhookSink(), SmtpSink()
    yield hook, mail
    hook.close()
    mail.close()


@pytest.fixture
def pipeline(mosquitto, tmp_path, sinks):
    hook, mail = sinks
    settings = load_settings(
        None, data_dir=str(tmp_path),
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"foreshock-loop-{tmp_path.name[-8:]}"},
        telemetry={"backend": "embedded", "path": str(tmp_path / "telemetry.db"), "flush_interval_s": 0.1},
        database={"url": f"sqlite:///{tmp_path / 'foreshock.db'}"},
    )
    pipe = Pipeline(settings, PipelineOptions(api=False, tick_interval_s=3600))
    # The operator's alert configuration: SMTP server, fast retries (Settings has no alerts section yet).
    pipe.alerts.close()
    cfg = AlertConfig(retry_base_s=0.05, poll_s=0.2, smtp=SmtpConfig(port=mail.port))
    notifier = Notifier(pipe.sessions, cfg)
    pipe.alerts = AlertService(pipe.sessions, registry=pipe.registry, notifier=notifier, config=cfg)
    notifier.add_route(name="service-hook", channel="webhook", target=hook.url, secret=SECRET, customer="ACME")
    notifier.add_route(name="oncall", channel="email", target="oncall@example.com", min_grade="critical")
    pipe.registry.create_model("PUMP-6205", rated_rpm=RPM, bearing=BEARING, iso_group=2)
    for dev in ("PUMP-A", "PUMP-B", "PUMP-C"):
        pipe.registry.create_unit(dev, model="PUMP-6205", customer="ACME", site="Plant 1", firmware="2.1.0",
                                  batch="B-07")
    notifier.start()
    pipe.start()
    # start() waits a while for the broker, then goes on: messages published before the subscription
    # exists are not kept for it. Wait until ingest has subscribed.
    wait_for(lambda: pipe.ingest.connected, 60, "ingest to connect and subscribe")
    yield pipe
    pipe.stop(timeout_s=10)


def _publish(mosquitto, device: str, start_ms: int, defect) -> None:
    dev = Device(mosquitto.port, device)
    rng = np.random.default_rng(7)
    try:
        for i in range(len(defect)):
            samples = snapshot(rng, defect[i])
            dev.publish(p.topic(device, "vibration"), p.vibration_payload(start_ms + i * 60_000, i, samples, FS, rpm=RPM))
    finally:
        dev.close()


def _history_failure(pipe, device: str, key: str, *, close: bool = True) -> str:
    """An earlier failure of ``device``: warning, recovery, ticket closed with feedback."""
    now = time.time() - 6 * 3600  # well before the broker-driven faults: no flapping with them
    changes = pipe.handle_assessment(device, Assessment(ts=now, state="warning", failure_mode="outer_race"),
                                     source_key=f"{key}:w")
    number = next(c.ticket for c in changes if c.kind == "ticket_opened")
    for i in range(3):
        pipe.handle_assessment(device, Assessment(ts=now + i + 1, state="healthy"), source_key=f"{key}:h{i}")
    if close:
        pipe.alerts.record_feedback(number, "confirmed", actor="field", cause="lubrication")
        pipe.alerts.move_ticket(number, "closed", actor="field")
    return number


def month_holding(earliest: float, latest: float) -> tuple[str, str]:
    """A month (``YYYY-MM``) and a report time zone in which the instants from ``earliest`` to ``latest``
    (epoch seconds) all lie in that month. In UTC alone the test failed in the first hours of every
    month: its history is dated six hours back, in the month before. UTC+14 holds any span of less than
    14 hours that crosses midnight UTC."""
    for zone in ("UTC", "Pacific/Kiritimati"):
        first, last = (datetime.fromtimestamp(t, ZoneInfo(zone)).strftime("%Y-%m") for t in (earliest, latest))
        if first == last:
            return first, zone
    raise AssertionError(f"no month holds {earliest} to {latest}")


def _alerts(pipe, device: str, mode: str) -> list[dict]:
    return [a for a in pipe.alerts.list_alerts(open_only=False, device_id=device) if a["failure_mode"] == mode]


def test_healthy_to_failing_through_the_broker(pipeline, mosquitto, sinks):
    hook, mail = sinks
    pipe = pipeline
    began = time.time()
    # history: unit B failed twice this month, unit C once (outer race, same model and batch)
    b1, b2 = _history_failure(pipe, "PUMP-B", "hist-b1"), _history_failure(pipe, "PUMP-B", "hist-b2")
    _history_failure(pipe, "PUMP-C", "hist-c1", close=False)

    # Unit A: three hours of one snapshot a minute; an outer-race fault grows from minute 60.
    start_ms = int(time.time() * 1000) - 3 * 3600 * 1000
    _publish(mosquitto, "PUMP-A", start_ms, [0.0] * 60 + [0.6 * 1.08 ** i for i in range(30)])
    escalated = wait_for(lambda: [a for a in _alerts(pipe, "PUMP-A", "outer_race") if a["severity"] == "alarm"],
                         90, "unit A's outer-race alert escalated to alarm")
    alert = escalated[0]
    assert alert["escalated_at"] is not None and alert["raised_at"] < alert["escalated_at"]
    ticket_a = pipe.alerts.get_ticket(alert["ticket"])
    assert ticket_a["grade"] == "critical" and ticket_a["status"] == "received"
    d2 = ticket_a["eight_d"]["D2"]
    assert d2["unit"] == "PUMP-A" and d2["model"] == "PUMP-6205" and d2["features"]

    # Unit A is the third unit of the model and batch with an outer-race ticket this week: a fleet problem.
    fleet = wait_for(lambda: pipe.alerts.list_tickets(kind="fleet"), 60, "a fleet ticket")
    assert {f["group_key"] for f in fleet} >= {"model:PUMP-6205", "batch:B-07"}
    fleet_full = pipe.alerts.get_ticket(next(f["number"] for f in fleet if f["group_key"] == "model:PUMP-6205"))
    assert {"PUMP-A", "PUMP-C", "PUMP-B"} <= set(fleet_full["eight_d"]["D2"]["units"])

    # Unit B: a short outer-race fault, then healthy again: raise, third ticket (repeat), clear.
    _publish(mosquitto, "PUMP-B", start_ms, [0.0] * 60 + [0.5] * 4 + [0.0] * 16)
    cleared = wait_for(lambda: [a for a in _alerts(pipe, "PUMP-B", "outer_race")
                                if a["status"] == "cleared" and a["ticket"] not in (b1, b2)],
                       90, "unit B's outer-race alert raised and cleared")
    ticket_b = pipe.alerts.get_ticket(cleared[0]["ticket"])
    assert ticket_b["repeat_failure"] and ticket_b["escalation_level"] >= 1
    assert {b1, b2} <= {link["ticket"] for link in ticket_b["links"] if link["reason"] == "repeat"}

    # Clocks: two hours later nobody has answered the critical ticket -> breach, escalation, notification.
    breaches = pipe.alerts.tick(time.time() + 2 * 3600 + 60)
    assert (ticket_a["number"], "response") in {(c.ticket, c.detail.get("clock")) for c in breaches}
    pipe.alerts.assign_ticket(ticket_a["number"], actor="lead", assignee="ana", team="field-service")
    for state in FLOW:
        pipe.alerts.move_ticket(ticket_a["number"], state, actor="ana")
    pipe.alerts.record_feedback(ticket_a["number"], "confirmed", actor="ana", actual_failure_mode="outer_race",
                                cause="bearing outer race spall", action="bearing replaced")
    closed = pipe.alerts.get_ticket(ticket_a["number"])
    assert [e["to"] for e in closed["audit"] if e["action"] == "moved"] == list(FLOW)
    assert closed["response_breached"] and closed["closed_at"] is not None

    # Notifications: signed webhooks for everything of customer ACME, email for critical events.
    want = {"alert.raised", "alert.escalated", "alert.cleared", "ticket.opened", "ticket.repeat_failure",
            "fleet.fleet_ticket_opened", "ticket.sla_breached"}
    wait_for(lambda: want <= {h["X-Foreshock-Event"] for h, _ in hook.requests}, 60, f"webhooks {sorted(want)}")
    for headers, body in hook.requests:
        assert verify(SECRET, headers["X-Foreshock-Timestamp"], body, headers["X-Foreshock-Signature"])
    assert mail.wait_for(1)
    assert any(ticket_a["number"] in m["Subject"] for _, m in mail.messages)

    # The monthly report counts it all.
    # from the history's alerts, dated six hours back (_history_failure), to the tickets opened now
    month, zone = month_holding(began - 6 * 3600 - 60, time.time())
    report = monthly_report(pipe.sessions, month, timezone=zone)
    t = report["tickets"]
    assert t["opened"] >= 5 and t["repeat_failures"] >= 1 and t["fleet_problems"] >= 1 and t["sla_breaches"] >= 1
    assert report["top5_failure_modes"][0] == {"failure_mode": "outer_race", "count": 5}
    assert report["pareto"]["model"][0]["key"] == "PUMP-6205"
    assert report["field_precision"]["all"]["confirmed"] == 3
    assert report["alerts"]["raised"] >= 5 and report["sla"]["critical"]["response_missed"] >= 1
