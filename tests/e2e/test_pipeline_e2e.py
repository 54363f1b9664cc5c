"""The whole path on real servers: device → Mosquitto → ingest → InfluxDB 1.x → detector → alert →
ticket → HTTP API; bad messages land in the dead-letter store with their reasons."""

from __future__ import annotations

import json
import secrets
import threading
import time

import httpx
import numpy as np
import paho.mqtt.client as mqtt
import pytest

from devices import protocol as p
from foreshock.service import Pipeline, PipelineOptions
from foreshock.settings import load_settings
from tests.pump_signal import BEARING, FS, RPM, snapshot
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration]


class Device:
    """A publishing client that waits for the broker's acknowledgement of each message."""

    def __init__(self, url_port: int, client_id: str) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
        self.client.connect("127.0.0.1", url_port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(60)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def pipeline(mosquitto, influxd, tmp_path):
    tag = secrets.token_hex(4)
    settings = load_settings(
        None,
        data_dir=str(tmp_path),
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"foreshock-e2e-{tag}"},
        telemetry={"backend": "influx1", "url": influxd.url, "database": f"e2e_{tag}", "flush_interval_s": 0.2},
        database={"url": f"sqlite:///{tmp_path / 'foreshock.db'}"},
        api={"host": "127.0.0.1", "port": 0},
    )
    pipe = Pipeline(settings, PipelineOptions(tick_interval_s=3600))
    pipe.store.create_database()
    pipe.registry.create_model("PUMP-6205", rated_rpm=RPM, bearing=BEARING, iso_group=2)
    pipe.registry.create_unit("PUMP-0001", model="PUMP-6205", customer="ACME", site="Plant 1")
    pipe.start()
    # start() waits a while for the broker, then goes on: messages published before the subscription
    # exists are not kept for it. Wait until ingest has subscribed.
    wait_for(lambda: pipe.ingest.connected, 60, "ingest to connect and subscribe")
    yield pipe
    pipe.stop(timeout_s=10)


def _token(pipe) -> str:
    from api.tokens import create_token

    with pipe.sessions() as session:
        _, token = create_token(session=session, name="e2e", role="viewer")
        session.commit()
    return token


def test_device_to_ticket_over_real_servers(pipeline, mosquitto):
    dev = Device(mosquitto.port, "PUMP-0001")
    # the session's broker keeps retained messages: a health of PUMP-0001 left by an earlier test (the browser's
    # live pipeline uses that id too) answered step 4 below whatever this pipeline did. Clear it.
    dev.client.publish(p.topic("PUMP-0001", "health"), b"", qos=1, retain=True).wait_for_publish(60)
    rng = np.random.default_rng(7)
    start_ms = int(time.time() * 1000) - 3 * 3600 * 1000  # history: three hours ago, one snapshot a minute
    topic_tel = p.topic("PUMP-0001", "telemetry")
    topic_vib = p.topic("PUMP-0001", "vibration")
    try:
        dev.publish(p.topic("PUMP-0001", "status"), p.status_payload("online", start_ms, "1.2.0"))
        # Good and bad messages interleaved: bad ones must not disturb the good ones around them.
        bad = [
            ("foreshock/v1/PUMP-0001/telemetry", b"{not json", "bad_json"),
            ("foreshock/v1/PUMP-0001/telemetry", b'{"ts": 1795000000000, "seq": 1, "values": {"t": NaN}}', "non_finite"),
            ("foreshock/v1/PUMP-0001/telemetry", b'{"ts": 1795000000000, "seq": 1, "values": {"Temp": 1}}', "schema"),
            ("foreshock/v1/GHOST-9/telemetry", p.telemetry_payload(start_ms, 1, {"temperature_c": 20.0}), "unknown_device"),
            ("foreshock/v1/PUMP-0001/telemetry",
             p.telemetry_payload(int(time.time() * 1000) + 3600_000, 2, {"temperature_c": 20.0}), "future_timestamp"),
            ("foreshock/v1/bad id/telemetry", b"{}", "bad_topic"),
        ]
        temps: list[float] = []
        for i in range(120):
            ts = start_ms + i * 60_000
            defect = 0.0 if i < 80 else 0.6 * 1.08 ** (i - 80)
            values = {"temperature_c": round(40.0 + rng.normal(0, 0.2), 2), "current_a": round(12.0 + rng.normal(0, 0.1), 2)}
            temps.append(values["temperature_c"])
            dev.publish(topic_tel, p.telemetry_payload(ts, 2 * i, values))
            dev.publish(topic_vib, p.vibration_payload(ts + 1, 2 * i + 1, snapshot(rng, defect), FS, rpm=RPM))
            if i % 20 == 10 and bad:
                topic, payload, _ = bad.pop()
                dev.publish(topic, payload)
        while bad:
            topic, payload, _ = bad.pop()
            dev.publish(topic, payload)
    finally:
        dev.close()

    # 1. Telemetry is in InfluxDB: every record, read back from the server. Both measurements are waited
    # for: the last vibration point comes after the last telemetry point (the next batch, or later in the
    # same write, which influxd shows to a query point by point)
    def all_written():
        rows = pipeline.store.query("telemetry", "PUMP-0001", start_ms, start_ms + 121 * 60_000, ["temperature_c"])
        vib = pipeline.store.query("vibration", "PUMP-0001", start_ms, start_ms + 121 * 60_000, ["rms_g", "kurtosis"])
        whole = len(vib) >= 120 and all({"rms_g", "kurtosis"} <= set(r.fields) for r in vib)
        return (rows, vib) if len(rows) >= 120 and whole else None

    rows, vib = wait_for(all_written, 60, "120 telemetry and 120 vibration points in influxd")
    assert [r.fields["temperature_c"] for r in rows] == pytest.approx(temps)
    assert len(vib) == 120
    assert vib[-1].fields["kurtosis"] > vib[0].fields["kurtosis"]
    # ... and also straight from influxd's own HTTP API, not only through our store.
    raw = httpx.get(f"{pipeline.settings.telemetry.url}/query",
                    params={"db": pipeline.settings.telemetry.database,
                            "q": "SELECT count(temperature_c) FROM telemetry WHERE device='PUMP-0001'"}).json()
    assert raw["results"][0]["series"][0]["values"][0][1] == 120

    # 2. Every bad message is in the dead-letter store with its reason.
    def dead_letters():
        items, total = pipeline.dead_letters.list(limit=50)
        return items if total >= 6 else None

    letters = wait_for(dead_letters, 30, "six dead letters")
    reasons = sorted(str(getattr(d, "reason")) for d in letters)
    assert reasons == sorted(["bad_json", "non_finite", "schema", "unknown_device", "future_timestamp", "bad_topic"])
    by_reason = {str(d.reason): d for d in letters}
    assert by_reason["unknown_device"].device_id == "GHOST-9"
    assert "Temp" in by_reason["schema"].detail

    # 3. The developing fault became an alert and a PF ticket, visible over HTTP with a token.
    token = _token(pipeline)
    headers = {"Authorization": f"Bearer {token}"}

    def ticket():
        r = httpx.get(f"{pipeline.api_url}/api/v1/tickets", headers=headers)
        r.raise_for_status()
        data = r.json()["data"]
        return data if data else None

    tickets = wait_for(ticket, 60, "a ticket in GET /api/v1/tickets")
    assert len(tickets) == 1, "a repeated warning updates the open ticket instead of opening another"
    t = tickets[0]
    assert t["device_id"] == "PUMP-0001"
    assert t["number"].startswith("PF") and len(t["number"]) >= 11
    alerts = httpx.get(f"{pipeline.api_url}/api/v1/alerts", headers=headers).json()["data"]
    assert alerts and all(a["device_id"] == "PUMP-0001" for a in alerts)
    devices = httpx.get(f"{pipeline.api_url}/api/v1/devices", headers=headers).json()["data"]
    assert [d["device_id"] for d in devices] == ["PUMP-0001"]
    assert httpx.get(f"{pipeline.api_url}/healthz").status_code == 200
    assert httpx.get(f"{pipeline.api_url}/api/v1/tickets").status_code == 401

    # 4. The unit's health was published, retained, on its health topic.
    got: list[dict] = []
    done = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-health-{secrets.token_hex(3)}")
    sub.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
    sub.on_message = lambda c, u, m: (got.append(json.loads(m.payload)), done.set())
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe(p.topic("PUMP-0001", "health"), qos=1)
    sub.loop_start()
    try:
        assert done.wait(60), "no retained health message"
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert got[0]["state"] in ("watch", "warning", "alarm")
