"""The examples in docs/device-protocol.md are valid messages (the document and the module agree)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from devices import protocol as p

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
NOW_S = 1795256130.250 + 60


def _examples() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.parametrize("block", _examples())
def test_document_examples_parse(block):
    doc = json.loads(block)
    if isinstance(doc, dict) and "samples_b64" in doc:
        doc["samples_b64"] = "AAAAAM3MzD3NzEw+AACAPw=="  # the document abbreviates the samples
    payload = json.dumps(doc).encode()
    if isinstance(doc, dict) and "state" in doc and "reasons" in doc:
        assert doc["state"] in p.HEALTH_STATES  # platform -> device
        return
    kind = "status" if isinstance(doc, dict) and "state" in doc else (
        "vibration" if isinstance(doc, dict) and "axis" in doc else "telemetry")
    msg = p.parse_message(p.topic("P-0001", kind), payload, received_at=NOW_S)
    assert msg.kind == kind


def test_every_rejection_reason_is_documented():
    text = DOC.read_text()
    for reason in p.Reason:
        if reason in (p.Reason.STORE_REJECTED,):
            continue
        assert f"`{reason.value}`" in text, reason


@pytest.mark.integration
def test_the_minimal_device_of_the_document_delivers_everything_and_shuts_down_cleanly(tmp_path):
    """The document's Python device, run as printed (broker address and password substituted) against
    Mosquitto with the device ACL: the broker forwards online, telemetry, vibration, then the unit's
    own offline (stamped, so not the last will). As first printed it ended without waiting, so a short
    program could exit before anything was sent, and without disconnect(), so the will followed."""
    import queue
    import uuid

    import paho.mqtt.client as mqtt

    from foreshock.broker import MosquittoBroker, mosquitto_available
    from tests.servers import DEVICE_ACL, PLATFORM_PASSWORD, PLATFORM_USER

    if not mosquitto_available():
        pytest.skip("mosquitto is not installed")
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)[0]
    broker = MosquittoBroker(workdir=tmp_path / "broker", users={PLATFORM_USER: PLATFORM_PASSWORD, "P-0001": "pw-1"},
                             acl=DEVICE_ACL, persistence=False)
    broker.start()
    got: queue.Queue = queue.Queue()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"doc-{uuid.uuid4().hex[:8]}")
    sub.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
    subscribed = queue.Queue()
    sub.on_subscribe = lambda *a: subscribed.put(True)
    sub.on_message = lambda c, u, m: got.put((m.topic, m.payload))
    try:
        sub.connect(broker.host, broker.port)
        sub.loop_start()
        sub.subscribe("foreshock/v1/P-0001/+", qos=1)
        subscribed.get(timeout=10)
        for old, new in (('"the-password-from-provisioning"', '"pw-1"'),
                         ('"broker.example.com", 1883', f'"{broker.host}", {broker.port}')):
            assert old in code
            code = code.replace(old, new)
        exec(compile(code, "device-protocol.md", "exec"), {})  # noqa: S102 - the document's own example
        messages = [got.get(timeout=10) for _ in range(4)]
    finally:
        sub.disconnect()
        sub.loop_stop()
        broker.cleanup()
    now_s = p.now_ms() / 1000
    parsed = [p.parse_message(t, payload, received_at=now_s) for t, payload in messages]
    assert [m.kind for m in parsed] == ["status", "telemetry", "vibration", "status"]
    assert parsed[0].status.state == "online" and parsed[0].status.firmware == "1.0.0"
    assert parsed[2].snapshot.samples.size == 2560
    assert parsed[3].status.state == "offline" and parsed[3].status.ts_ms is not None  # not the will
