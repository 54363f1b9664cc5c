"""From a simulated device to the browser: a unit develops an outer-race fault, its messages go through
Mosquitto, ingest, the detectors and the alert service of ``foreshock run``'s Pipeline, and a service
engineer sees it fail in the dashboard (health, spectrum with BPFO marker) and acknowledges its alert."""

from __future__ import annotations

import secrets
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from devices import protocol as p
from tests.browser.conftest import expect, shot
from tests.ingest.conftest import wait_until
from tests.pump_signal import BEARING, FS, RPM, snapshot
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

N = 4_096


@pytest.fixture
def pipeline(mosquitto, tmp_path):
    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    settings = load_settings(
        None, data_dir=str(tmp_path),
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"foreshock-browser-{secrets.token_hex(4)}"},
        telemetry={"backend": "embedded", "flush_interval_s": 0.2},
        database={"url": f"sqlite:///{tmp_path / 'foreshock.db'}"},
        api={"host": "127.0.0.1", "port": 0},
    )
    pipe = Pipeline(settings, PipelineOptions(tick_interval_s=3600))
    pipe.registry.create_model("PUMP-6205", rated_rpm=RPM, bearing=BEARING, iso_group=2)
    pipe.registry.create_unit("PUMP-0001", model="PUMP-6205", customer="ACME", site="Plant 1")
    pipe.registry.create_unit("PUMP-0002", model="PUMP-6205", customer="ACME", site="Plant 1")
    pipe.start()
    # start() waits a while for the broker, then goes on: messages published before the subscription
    # exists are not kept for it. Wait until ingest has subscribed.
    wait_until(lambda: pipe.ingest.connected, what="ingest to connect and subscribe")
    yield pipe
    pipe.stop(timeout_s=10)


def test_failing_simulated_unit_in_the_browser(pipeline, mosquitto, page):
    from api.tokens import create_token

    dev = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="PUMP-0001")
    dev.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
    dev.connect("127.0.0.1", mosquitto.port)
    dev.loop_start()
    rng = np.random.default_rng(3)
    start_ms = int(time.time() * 1000) - 3 * 3600_000
    try:
        for i in range(120):
            defect = 0.0 if i < 80 else 0.6 * 1.08 ** (i - 80)
            payload = p.vibration_payload(start_ms + i * 60_000, i, snapshot(rng, defect, N), FS, rpm=RPM)
            dev.publish(p.topic("PUMP-0001", "vibration"), payload, qos=1).wait_for_publish(60)
    finally:
        dev.loop_stop()
        dev.disconnect()

    with pipeline.sessions() as session:
        _, token = create_token(session=session, name="browser", role="service")
        session.commit()
    from sqlalchemy import func, select

    from alerts.models import Alert

    def alerted() -> bool:
        with pipeline.sessions() as session:
            return bool(session.scalar(select(func.count()).select_from(Alert)))

    wait_until(alerted, 120, what="the failing unit's alert")  # it went on without one after 60 s
    pipeline.detection.flush()  # the fleet page reads the latest assessment from the database

    base = pipeline.api_url
    page.goto(f"{base}/ui/login")
    page.fill("#token", token)
    page.click("#login-button")
    page.wait_for_url(f"{base}/ui/")
    first = page.locator("#units tr").first
    expect(first).to_have_attribute("data-unit", "PUMP-0001")
    state = first.locator(".badge").inner_text().lower()
    assert state in ("watch", "warning", "alarm"), state
    page.click("#units tr[data-unit='PUMP-0001'] a")
    page.locator("#chart-envelope canvas").first.wait_for()
    assert "shaft 30.00 Hz" in page.locator("#spectrum-info").inner_text()
    shot(page, "live-unit")
    page.click("header nav >> text=Alerts")
    row = page.locator("#alerts tr[data-unit='PUMP-0001']").first
    row.wait_for()
    row.locator("button.ack").click()
    expect(row.locator(".acked")).to_contain_text("browser")
    assert page.js_errors == [], page.js_errors
