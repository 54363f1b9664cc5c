"""Fixtures of the ingest tests: real influxd / victoria-metrics (tests/tsdb_servers.py) and helpers."""

from __future__ import annotations

import time
import uuid

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER


# The shortest wait for an outcome: the whole suite runs once on a loaded 2-core CI machine, where a
# broker round trip or a store's restart can take many seconds. A wait that succeeds returns at once.
MIN_WAIT_S = 60.0


def wait_until(condition, timeout_s: float = MIN_WAIT_S, what: str = "condition") -> None:
    """Poll ``condition`` until true; fail naming ``what`` (a wait for an outcome, not a timing assertion).
    ``timeout_s`` is raised to :data:`MIN_WAIT_S`: a shorter bound only made a slow machine fail."""
    timeout_s = max(timeout_s, MIN_WAIT_S)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


class Publisher:
    """A platform-user MQTT client that publishes at QoS 1 and waits for the broker's acknowledgements."""

    def __init__(self, broker) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(MIN_WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(mosquitto):
    pub = Publisher(mosquitto)
    yield pub
    pub.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
