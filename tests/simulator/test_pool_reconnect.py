"""Simulated units reconnect after the broker restarts, as units in the field do.

The pool's clients never reconnected: after a Mosquitto restart `foreshock simulate` went on printing
progress with `units 0` and published nothing more.
"""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest

from simulator.mqttpool import ClientPool
from tests.servers import start_broker

pytestmark = [pytest.mark.integration]


def test_units_reconnect_after_the_broker_restarts_and_publish_again(tmp_path):
    wait_s = 60.0  # generous bounds on waiting for the broker (a loaded CI machine); never speed assertions
    broker = start_broker(workdir=tmp_path / "mq")
    got: list[str] = []
    subscribed = threading.Event()
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher", clean_session=False)
    watcher.on_message = lambda c, u, m: got.append(m.topic)
    watcher.on_subscribe = lambda *_: subscribed.set()
    back: list[str] = []
    pool = ClientPool(broker.host, broker.port, keepalive_s=5, on_reconnect=back.append)
    try:
        for unit in ("U-1", "U-2"):
            pool.add(unit, username=None, password=None, will_topic=f"t/{unit}/status", will_payload=b"offline")
        pool.connect_all(timeout_s=wait_s)
        assert pool.connected == 2
        broker.restart(down_s=1.5)
        deadline = time.monotonic() + wait_s
        while pool.reconnected < 2 and time.monotonic() < deadline:
            pool.service(0.1)
        assert pool.connected == 2 and pool.reconnected == 2 and pool.dropped == 2
        assert sorted(back) == ["U-1", "U-2"]  # told, so that each can announce itself online again
        watcher.connect(broker.host, broker.port)
        watcher.subscribe("t/#", qos=1)
        watcher.loop_start()
        assert subscribed.wait(wait_s), "the broker did not acknowledge the watcher's subscription"
        assert pool.publish("U-1", "t/U-1/telemetry", b"{}") and pool.publish("U-2", "t/U-2/telemetry", b"{}")
        pool.flush(wait_s)
        deadline = time.monotonic() + wait_s
        while len([t for t in got if t.endswith("/telemetry")]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(t for t in got if t.endswith("/telemetry")) == ["t/U-1/telemetry", "t/U-2/telemetry"]
    finally:
        watcher.loop_stop()
        pool.close()
        broker.cleanup()
