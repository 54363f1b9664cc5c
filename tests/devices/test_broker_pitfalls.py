"""What the broker does with a unit's messages that the device protocol must warn of (each seen live
with Mosquitto 2.0.11, each now in docs/device-protocol.md; these tests check both the text and the
behaviour it describes).

- **Before the platform's session exists, the broker acknowledges a unit's QoS 1 message and drops
  it.** The document said that the broker keeps a unit's message in the platform's persistent session
  "even while the platform is down". On a broker the platform never connected to (a unit brought up
  first, as a firmware team does), there is no such session: Mosquitto answers PUBACK and drops the
  message, with MQTT 5 reason code 0x10 *No matching subscribers*, which paho does not count as a
  failure and ``mosquitto_pub`` does not print (seen on the deployment's TLS listener).
- **A message over the broker's ``max_packet_size`` never reaches the platform, and paho sends it
  again forever.** The document said only that a payload may not exceed 4 MiB (dead-lettered as
  ``too_large``). With the broker set up as docs/deployment.md sets it (``max_packet_size 5242880``),
  a larger message is no dead letter: Mosquitto closes the unit's connection (its last will is
  published), and paho, which keeps an unacknowledged QoS 1 message and resends it after
  reconnecting, loses the connection again each time.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from devices.broker_config import acl_text
from foreshock.broker import mosquitto_available
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER, start_broker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not mosquitto_available(), reason="mosquitto is not installed"),
]

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
FLAT = " ".join(DOC.read_text(encoding="utf-8").split())
WAIT_S = 60.0  # a bound on waiting for the broker on a loaded machine, never a speed assertion
UNIT = ("P-0001", "unit-secret")
TOPIC = "foreshock/v1/P-0001/telemetry"
DEPLOYED_LIMIT = 5_242_880  # max_packet_size of deploy/mosquitto/foreshock.conf


def _platform(port: int, client_id: str, got: queue.Queue) -> mqtt.Client:
    """The platform's connection as ingest makes it: MQTT 3.1.1, a persistent session, QoS 1."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                    protocol=mqtt.MQTTv311)
    c.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
    subscribed = queue.Queue()
    c.on_connect = lambda c, u, flags, rc, props: c.subscribe("foreshock/v1/+/telemetry", qos=1)
    c.on_subscribe = lambda c, u, mid, rcs, props: subscribed.put(rcs)
    c.on_message = lambda c, u, m: got.put(m.payload)
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert not subscribed.get(timeout=WAIT_S)[0].is_failure
    return c


def _unit_publish(port: int, payload: bytes) -> mqtt.ReasonCode:
    acks: queue.Queue = queue.Queue()
    connected: queue.Queue = queue.Queue()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=UNIT[0], protocol=mqtt.MQTTv5)
    c.username_pw_set(*UNIT)
    c.on_connect = lambda c, u, flags, rc, props: connected.put(rc)
    c.on_publish = lambda c, u, mid, rc, props: acks.put(rc)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        assert not connected.get(timeout=WAIT_S).is_failure
        c.publish(TOPIC, payload, qos=1)
        return acks.get(timeout=WAIT_S)
    finally:
        c.disconnect()
        c.loop_stop()


def test_a_message_sent_before_the_platform_ever_connected_is_acknowledged_and_dropped(tmp_path):
    assert ("no one subscribes, and the broker acknowledges the message and drops it. An MQTT 5 PUBACK then says "
            "`0x10` *No matching subscribers*, which is no failure code") in FLAT
    broker = start_broker(workdir=tmp_path / "broker", users={PLATFORM_USER: PLATFORM_PASSWORD, UNIT[0]: UNIT[1]},
                          acl=acl_text([UNIT[0]], platform_user=PLATFORM_USER), persistence=False)
    got: queue.Queue = queue.Queue()
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    try:
        early = _unit_publish(broker.port, b'{"ts": 1795256130250, "seq": 1, "values": {"a_c": 1}}')
        assert early.value == 0x10 and str(early) == "No matching subscribers" and not early.is_failure

        platform = _platform(broker.port, client_id, got)  # the platform's session now exists
        platform.disconnect()
        platform.loop_stop()
        kept = _unit_publish(broker.port, b'{"ts": 1795256130250, "seq": 2, "values": {"a_c": 2}}')
        assert kept.value == 0x00  # the platform is down, its session keeps the message

        platform = _platform(broker.port, client_id, got)
        assert b'"seq": 2' in got.get(timeout=WAIT_S)  # the message sent while it was down
        platform.disconnect()
        platform.loop_stop()
        assert got.empty()  # and not the one sent before its session existed
    finally:
        broker.cleanup()


def test_the_document_warns_of_the_brokers_packet_limit():
    for said in ("a message over that never reaches the platform and is in no dead letter",
                 "Mosquitto closes the connection of a unit that sends one, and publishes its last will",
                 "paho then reconnects and sends the same message again",
                 "have the firmware drop, not resend, a message after which the broker closed the connection"):
        assert said in FLAT, f"docs/device-protocol.md no longer says {said!r}"
    example = FLAT[FLAT.index("## A minimal device in Python"):]
    assert 'assert info.is_published(), "no PUBACK' in example  # wait_for_publish(10) alone returns after 10 s
    conf = (DOC.parents[1] / "deploy" / "mosquitto" / "foreshock.conf").read_text(encoding="utf-8")
    assert f"max_packet_size {DEPLOYED_LIMIT}" in conf


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["mqtt-3.1.1", "mqtt-5"])
def test_a_message_over_max_packet_size_drops_the_unit_and_is_resent_after_each_reconnect(tmp_path, protocol):
    broker = start_broker(workdir=tmp_path / "broker", users={PLATFORM_USER: PLATFORM_PASSWORD, UNIT[0]: UNIT[1]},
                          acl=acl_text([UNIT[0]], platform_user=PLATFORM_USER), persistence=False,
                          extra_config=f"max_packet_size {DEPLOYED_LIMIT}")
    base = f"foreshock/v1/{UNIT[0]}"
    seen: queue.Queue[tuple[str, bytes]] = queue.Queue()
    platform = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"platform-{uuid.uuid4().hex[:8]}")
    platform.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
    subscribed = threading.Event()
    platform.on_connect = lambda c, u, flags, rc, props: c.subscribe("foreshock/#", qos=1)
    platform.on_subscribe = lambda c, u, mid, rcs, props: subscribed.set()
    platform.on_message = lambda c, u, m: seen.put((m.topic, m.payload))
    connects = queue.Queue()
    unit = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=UNIT[0], protocol=protocol)
    unit.username_pw_set(*UNIT)
    unit.reconnect_delay_set(1, 1)
    unit.will_set(f"{base}/status", b'{"state":"offline"}', qos=1, retain=True)
    unit.on_connect = lambda c, u, flags, rc, props: connects.put(str(rc))
    try:
        platform.connect("127.0.0.1", broker.port)
        platform.loop_start()
        assert subscribed.wait(WAIT_S)
        unit.connect("127.0.0.1", broker.port, keepalive=60)
        unit.loop_start()
        assert connects.get(timeout=WAIT_S) == "Success"
        small = unit.publish(f"{base}/telemetry", b'{"ts": 1795256130250, "seq": 1, "values": {"a_c": 1}}', qos=1)
        small.wait_for_publish(WAIT_S)
        assert small.is_published()
        assert seen.get(timeout=WAIT_S)[0] == f"{base}/telemetry"

        big = unit.publish(f"{base}/telemetry", b"x" * (DEPLOYED_LIMIT + 10), qos=1)
        assert seen.get(timeout=WAIT_S) == (f"{base}/status", b'{"state":"offline"}')  # the last will
        # paho reconnects and sends the message again: the broker closes the connection again
        assert connects.get(timeout=WAIT_S) == "Success"
        assert seen.get(timeout=WAIT_S) == (f"{base}/status", b'{"state":"offline"}')
        big.wait_for_publish(2)  # as the document's minimal device waits: it returns without a PUBACK too,
        assert not big.is_published()  # so the example checks is_published()
        # the platform never saw the message, only the wills
        unit.loop_stop()
        unit.disconnect()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                topic_name, _ = seen.get(timeout=0.1)
            except queue.Empty:
                continue
            assert topic_name == f"{base}/status"
    finally:
        unit.loop_stop()
        platform.loop_stop()
        platform.disconnect()
        broker.cleanup()


def test_a_status_the_unit_sends_now_arrives_unmarked_and_the_brokers_copy_marked_retained(tmp_path):
    """What the "unit silent" rule relies on to count an undated ``online`` heartbeat
    (docs/device-protocol.md): on the platform's MQTT 3.1.1 subscription, a status the unit publishes
    with the retain flag arrives *without* it while the platform listens, and the broker's stored copy,
    handed to a new subscription (a restart of the platform), arrives *with* it."""
    broker = start_broker(workdir=tmp_path / "broker", users={PLATFORM_USER: PLATFORM_PASSWORD, UNIT[0]: UNIT[1]},
                          acl=acl_text([UNIT[0]], platform_user=PLATFORM_USER), persistence=False)
    status = f"foreshock/v1/{UNIT[0]}/status"
    got: queue.Queue = queue.Queue()

    def platform() -> mqtt.Client:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"ingest-{uuid.uuid4().hex[:8]}",
                        clean_session=True, protocol=mqtt.MQTTv311)
        c.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
        subscribed: queue.Queue = queue.Queue()
        c.on_connect = lambda c, u, flags, rc, props: c.subscribe("foreshock/v1/+/status", qos=1)
        c.on_subscribe = lambda c, u, mid, rcs, props: subscribed.put(rcs)
        c.on_message = lambda c, u, m: got.put((m.payload, bool(m.retain)))
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        assert not subscribed.get(timeout=WAIT_S)[0].is_failure
        return c

    unit = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=UNIT[0], protocol=mqtt.MQTTv311)
    unit.username_pw_set(*UNIT)
    try:
        listening = platform()
        unit.connect("127.0.0.1", broker.port)
        unit.loop_start()
        unit.publish(status, b'{"state":"online"}', qos=1, retain=True).wait_for_publish(WAIT_S)
        assert got.get(timeout=WAIT_S) == (b'{"state":"online"}', False)  # sent now: counts as seen
        listening.disconnect()
        listening.loop_stop()
        restarted = platform()
        assert got.get(timeout=WAIT_S) == (b'{"state":"online"}', True)  # the broker's copy: does not
        restarted.disconnect()
        restarted.loop_stop()
    finally:
        unit.disconnect()
        unit.loop_stop()
        broker.cleanup()
