"""docs/devices.md's Mosquitto settings keep a unit's messages while the platform is down; the defaults do not.

The device protocol promises that a message the broker acknowledged reaches the platform even
while the platform is down. Mosquitto keeps such messages in the platform's persistent session,
but by default only 1,000 of them for all units together: tried with 2.0.11, 1,500 messages sent
during an outage of `foreshock run` left 999 stored. The document's configuration, run here as
printed (ports and paths substituted), keeps them all.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from devices.broker_config import write_broker_config
from devices.protocol import telemetry_payload, topic
from foreshock.broker import free_port, mosquitto_available, wait_for_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not mosquitto_available(), reason="mosquitto is not installed"),
]

DOC = Path(__file__).resolve().parents[2] / "docs" / "devices.md"
PLATFORM = ("foreshock", "platform-secret")
SENT = 1200  # over Mosquitto's default queue of 1,000
WAIT_S = 30.0  # bound on waiting for the broker; never a speed assertion


def _documented_config() -> str:
    block = re.search(r"```\n(# /etc/mosquitto/conf.d/foreshock.conf\n.*?)```", DOC.read_text(), flags=re.S)
    assert block, "docs/devices.md no longer shows the Mosquitto configuration"
    return block.group(1)


def _start(conf_text: str, workdir: Path, passwd: Path, acl: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    text = (conf_text.replace("listener 1883", f"listener {port} 127.0.0.1")
            .replace("/etc/mosquitto/foreshock.passwd", str(passwd)).replace("/etc/mosquitto/foreshock.acl", str(acl)))
    assert str(passwd) in text and str(acl) in text and f"listener {port}" in text
    text += f"\npersistence_location {workdir}/\n" + ("user root\n" if os.geteuid() == 0 else "")
    (workdir / "mosquitto.conf").write_text(text)
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(workdir / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for_port("127.0.0.1", port, 10, proc)
    return proc, port


def _client(port: int, user: str, password: str, client_id: str, inbox: queue.Queue | None = None) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    c.username_pw_set(user, password)
    connected: queue.Queue = queue.Queue()
    c.on_connect = lambda cl, u, flags, rc, props: connected.put(rc)
    if inbox is not None:
        c.on_message = lambda cl, u, m: inbox.put(m.payload)
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert not connected.get(timeout=WAIT_S).is_failure
    return c


def _stored_after_an_outage(conf_text: str, workdir: Path, passwd: Path, acl: Path, unit_password: str) -> int:
    """Messages the platform's session receives of SENT published while it was away (then a marker)."""
    workdir.mkdir()
    proc, port = _start(conf_text, workdir, passwd, acl)
    ingest_id = f"ingest-{uuid.uuid4().hex[:8]}"
    inbox: queue.Queue = queue.Queue()
    try:
        platform = _client(port, *PLATFORM, ingest_id, inbox)
        subscribed: queue.Queue = queue.Queue()
        platform.on_subscribe = lambda *a: subscribed.put(True)
        platform.subscribe("foreshock/v1/+/telemetry", qos=1)
        subscribed.get(timeout=WAIT_S)
        platform.disconnect()  # the platform is down; its session stays
        platform.loop_stop()
        unit = _client(port, "U-1", unit_password, "U-1")
        infos = [unit.publish(topic("U-1", "telemetry"), telemetry_payload(1_795_256_130_000 + i, i, {"n_c": i}), qos=1)
                 for i in range(SENT)]
        for info in infos:
            info.wait_for_publish(WAIT_S)  # every one acknowledged to the unit
        platform = _client(port, *PLATFORM, ingest_id, inbox)  # back: the session is delivered
        marker = telemetry_payload(1_795_256_140_000, SENT, {"marker_c": 1})
        unit.publish(topic("U-1", "telemetry"), marker, qos=1).wait_for_publish(WAIT_S)
        got = []
        while (payload := inbox.get(timeout=WAIT_S)) != marker:  # in order: the queue ends before the marker
            got.append(payload)
        unit.disconnect()
        unit.loop_stop()
        platform.disconnect()
        platform.loop_stop()
        return len(got)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_documented_broker_settings_keep_an_outage_worth_of_messages(registry, tmp_path):
    registry.create_unit("U-1")
    password = registry.provision("U-1")
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    write_broker_config(registry, passwd_path=passwd, acl_path=acl, platform_user=PLATFORM[0],
                        platform_password=PLATFORM[1])
    documented = _documented_config()
    assert "max_queued_messages" in documented
    assert _stored_after_an_outage(documented, tmp_path / "documented", passwd, acl, password) == SENT
    default = "\n".join(line for line in documented.splitlines() if not line.startswith("max_queued_messages"))
    assert _stored_after_an_outage(default, tmp_path / "default", passwd, acl, password) < SENT  # what the doc warns of
