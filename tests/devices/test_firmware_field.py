"""A unit written from docs/device-protocol.md alone, in the field: a real Mosquitto with the password file
and ACL that ``devices provision`` and ``devices write-broker-config`` give, the whole service
(:class:`foreshock.service.Pipeline`), and a hand-written paho unit (no Foreshock code on its side).

- A unit whose clock ran 4 minutes fast shut down cleanly (``offline`` stamped by that clock), rebooted,
  set its clock by NTP and said ``online``: the platform found that older than the ``offline`` and showed
  the unit offline, its new firmware unrecorded, while its telemetry arrived (until its next reconnect).
- A unit that publishes its presence and last will as plain text (``online`` / ``offline``, as many MQTT
  firmwares do): dead-lettered, and the detail now says what the payload should be.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.waiting import wait_for

pytestmark = [pytest.mark.integration]

WAIT_S = 60.0  # a bound on waiting for an outcome on a loaded machine, never a speed assertion
UNIT = "P-0001"
BASE = f"foreshock/v1/{UNIT}"


def _wait(predicate, what: str):
    return wait_for(predicate, WAIT_S, what)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _json(doc) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


@pytest.fixture
def field(tmp_path: Path):
    """(pipeline, broker, password of P-0001), the unit provisioned and the broker configured as documented."""
    from devices.broker_config import write_broker_config
    from devices.registry import Registry
    from foreshock.broker import mosquitto_available
    from foreshock.db import make_engine, migrate, session_factory
    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings
    from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER, start_broker

    if not mosquitto_available():
        pytest.fail("mosquitto is not installed: run `make test` as root, or apt-get install mosquitto")
    db_url = f"sqlite:///{tmp_path / 'foreshock.db'}"
    engine = make_engine(db_url)
    migrate(engine)
    registry = Registry(session_factory(engine))
    registry.create_model("PUMP-6205", rated_rpm=1780, bearing={"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04})
    registry.create_unit(UNIT, model="PUMP-6205")
    password = registry.provision(UNIT)  # as `foreshock devices provision P-0001` prints it
    write_broker_config(registry, passwd_path=tmp_path / "passwd", acl_path=tmp_path / "acl",
                        platform_user=PLATFORM_USER, platform_password=PLATFORM_PASSWORD)
    engine.dispose()
    broker = start_broker(workdir=tmp_path / "broker", password_file=tmp_path / "passwd", acl_file=tmp_path / "acl")
    settings = load_settings(
        None, data_dir=str(tmp_path / "data"),
        mqtt={"url": broker.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"field-{uuid.uuid4().hex[:8]}"},
        telemetry={"flush_interval_s": 0.05}, database={"url": db_url},
    )
    pipe = Pipeline(settings, PipelineOptions(api=False, tick_interval_s=1.0))
    pipe.start()
    _wait(lambda: pipe.ingest.connected, "ingest to connect and subscribe")
    yield pipe, broker, password
    pipe.stop(timeout_s=10)
    broker.cleanup()


class Unit:
    """The firmware's side: MQTT 5, its own credentials, a last will, QoS 1 and the broker's PUBACKs."""

    def __init__(self, broker, password: str, will: bytes = b'{"state":"offline"}') -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=UNIT, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(UNIT, password)
        self.client.will_set(f"{BASE}/status", will, qos=1, retain=True)
        self.refused: list[str] = []
        self.client.on_publish = lambda c, u, mid, rc, props: rc.is_failure and self.refused.append(str(rc))
        self.client.connect("127.0.0.1", broker.port, keepalive=60)
        self.client.loop_start()

    def publish(self, kind: str, payload: bytes, retain: bool = False) -> None:
        info = self.client.publish(f"{BASE}/{kind}", payload, qos=1, retain=retain)
        info.wait_for_publish(WAIT_S)
        assert info.is_published() and not self.refused, self.refused

    def shut_down(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self) -> None:
        """The connection drops (power cut): no DISCONNECT, so the broker publishes the will."""
        self.client.loop_stop()
        self.client.socket().close()


def test_a_unit_whose_fast_clock_ntp_set_right_at_a_reboot_is_online_again(field):
    pipe, broker, password = field
    fast_ms = 240_000  # within the protocol's 5 minutes
    unit = Unit(broker, password)
    unit.publish("status", _json({"state": "online", "ts": _now_ms() + fast_ms, "firmware": "1.9.0"}), retain=True)
    unit.publish("telemetry", _json({"ts": _now_ms() + fast_ms, "seq": 1, "values": {"temperature_c": 40.2}}))
    unit.publish("status", _json({"state": "offline", "ts": _now_ms() + fast_ms}), retain=True)  # clean shutdown
    unit.shut_down()
    _wait(lambda: pipe.registry.get_unit(UNIT).presence == "offline", "the clean shutdown's offline")

    unit = Unit(broker, password)  # rebooted with the update, its clock set by NTP
    unit.publish("status", _json({"state": "online", "ts": _now_ms(), "firmware": "2.0.0"}), retain=True)
    unit.publish("telemetry", _json({"ts": _now_ms(), "seq": 1, "values": {"temperature_c": 40.3}}))
    _wait(lambda: pipe.detection.stats.records >= 1 and pipe.registry.get_unit(UNIT).firmware == "2.0.0",
          "the rebooted unit's status")
    got = pipe.registry.get_unit(UNIT)
    assert (got.presence, got.firmware) == ("online", "2.0.0")
    unit.shut_down()


def test_a_plain_text_last_will_is_dead_lettered_saying_what_it_should_be(field):
    pipe, broker, password = field
    unit = Unit(broker, password, will=b"offline")
    unit.publish("status", _json({"state": "online", "ts": _now_ms()}), retain=True)
    _wait(lambda: pipe.registry.get_unit(UNIT).presence == "online", "the unit online")
    unit.drop()

    def will_letter():
        return [d for d in pipe.dead_letters.list(device=UNIT)[0] if d.topic.endswith("/status")]

    letters = _wait(will_letter, "the plain-text will in the dead letters")
    assert (letters[0].reason, letters[0].detail) == (
        "bad_json", "the payload is the text 'offline', not JSON: a status is a JSON object, "
                    '{"state":"offline"} (the last will too)')
    assert pipe.registry.get_unit(UNIT).presence == "online"  # as the document says: nothing changes
