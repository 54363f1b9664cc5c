"""A firmware team's bring-up, done as docs/device-protocol.md tells it: the unit's side is built by hand
(``mosquitto_pub`` / ``mosquitto_sub`` from a shell, or raw paho with hand-written JSON), never with
Foreshock's Python; the platform is the whole service (:class:`foreshock.service.Pipeline`: ingest,
detectors, presence, API) behind Mosquitto with the ACL that ``devices write-broker-config`` writes.

Each test checks a statement of the document that a firmware engineer relies on, and first finds the
statement in the document.
"""

from __future__ import annotations

import base64
import json
import shutil
import struct
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.waiting import wait_for

pytestmark = [pytest.mark.integration]

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
FLAT = " ".join(DOC.read_text(encoding="utf-8").split())
UNITS = {"P-0001": "pw-unit-1", "P-0002": "pw-unit-2"}
WAIT_S = 60.0  # a bound on waiting for an outcome on a loaded CI machine, never a speed assertion


def _in_doc(*snippets: str) -> None:
    for snippet in snippets:
        assert " ".join(snippet.split()) in FLAT, f"the document no longer says {snippet!r}: update this test with it"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _wait(predicate, what: str):
    return wait_for(predicate, WAIT_S, what)


class Platform:
    """Mosquitto (device ACL, persistence off) and the service with an embedded store and the API."""

    def __init__(self, tmp: Path) -> None:
        from devices.broker_config import acl_text
        from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER, start_broker

        self.tmp = tmp
        self.broker = start_broker(workdir=tmp / "broker", users={PLATFORM_USER: PLATFORM_PASSWORD, **UNITS},
                                   acl=acl_text(list(UNITS), platform_user=PLATFORM_USER), persistence=False)
        self.client_id = f"walkthrough-{uuid.uuid4().hex[:8]}"
        self.pipe = None
        self.start()
        from api.tokens import create_token

        with self.pipe.sessions() as session:
            self.token = create_token(session=session, name="firmware", role="engineer")[1]
            session.commit()

    def start(self) -> None:
        from foreshock.service import Pipeline, PipelineOptions
        from foreshock.settings import load_settings
        from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

        settings = load_settings(
            None, data_dir=str(self.tmp / "data"),
            mqtt={"url": self.broker.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
                  "client_id": self.client_id},
            telemetry={"flush_interval_s": 0.05},
            database={"url": f"sqlite:///{self.tmp / 'foreshock.db'}"},
            api={"host": "127.0.0.1", "port": 0},
        )
        self.pipe = Pipeline(settings, PipelineOptions(tick_interval_s=1.0))  # the API reads health written per tick
        if self.pipe.registry.get_model("PUMP-6205") is None:
            self.pipe.registry.create_model("PUMP-6205", rated_rpm=1780,
                                            bearing={"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04})
            for unit in UNITS:
                self.pipe.registry.create_unit(unit, model="PUMP-6205")
        self.pipe.start()
        _wait(lambda: self.pipe.ingest.connected, "ingest to connect and subscribe")

    def stop(self) -> None:
        if self.pipe is not None:
            self.pipe.stop(timeout_s=10)
            self.pipe = None

    def close(self) -> None:
        self.stop()
        self.broker.cleanup()

    # -- what a firmware engineer can see ----------------------------------------------------

    def api(self, path: str) -> dict:
        r = httpx.get(f"{self.pipe.api_url}/api/v1{path}", headers={"Authorization": f"Bearer {self.token}"},
                      timeout=WAIT_S)
        r.raise_for_status()
        return r.json()

    def dead_letters(self, device: str = "P-0001") -> list[dict]:
        return self.api(f"/dead-letters?device_id={device}&limit=100")["data"]

    def next_dead_letter(self, before: int, device: str = "P-0001") -> dict:
        return _wait(lambda: (rows := self.dead_letters(device)) and len(rows) > before and rows[0],
                     f"a new dead letter of {device}")

    def stored(self, device: str, field: str) -> list:
        return [r for r in self.pipe.store.query("telemetry", device, 0, _now_ms() + 600_000) if field in r.fields]

    # -- the unit's side, by hand ------------------------------------------------------------

    def pub(self, *args: str, unit: str = "P-0001", v5: bool = False, client_id: str | None = None,
            stdin: bytes | None = None) -> subprocess.CompletedProcess:
        cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.broker.port), "-u", unit, "-P", UNITS[unit],
               "-i", client_id or unit, "-q", "1", *(["-V", "mqttv5"] if v5 else []), *args]
        return subprocess.run(cmd, capture_output=True, timeout=WAIT_S, input=stdin)

    def health(self, unit: str = "P-0001") -> dict:
        """The unit's retained health, read as the unit itself (mosquitto_sub, its own credentials)."""
        out = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.broker.port), "-u", unit,
                              "-P", UNITS[unit], "-i", f"{unit}-health-{uuid.uuid4().hex[:6]}", "-q", "1",
                              "-t", f"foreshock/v1/{unit}/health", "-C", "1", "-W", str(int(WAIT_S))],
                             capture_output=True, timeout=WAIT_S + 10)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


@pytest.fixture
def platform(tmp_path):
    from foreshock.broker import mosquitto_available

    if not mosquitto_available() or not (shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub")):
        pytest.fail("mosquitto and mosquitto-clients are not installed: run `make test` as root, "
                    "or apt-get install mosquitto mosquitto-clients")
    plat = Platform(tmp_path)
    yield plat
    plat.close()


def _telemetry(seq: int, ts: int | None = None, **values: float) -> str:
    return json.dumps({"ts": ts or _now_ms(), "seq": seq, "values": values or {"temperature_c": 41.7}})


def test_a_refused_publish_exits_0_and_only_mqtt_5_says_so(platform):
    _in_doc("`mosquitto_pub -V mqttv5 -q 1 …` prints `Warning: Publish 1 failed: Not authorized.` on stderr for "
            "such a message and still exits with status 0; without `-V mqttv5` it prints nothing at all.")
    received = platform.pipe.ingest.metrics.get("received")
    other = "foreshock/v1/P-0002/telemetry"
    old = platform.pub("-t", other, "-m", _telemetry(1))
    assert (old.returncode, old.stdout, old.stderr) == (0, b"", b"")
    new = platform.pub("-t", other, "-m", _telemetry(2), v5=True)
    assert new.returncode == 0 and b"Warning: Publish 1 failed: Not authorized." in new.stderr, new
    assert platform.pub("-t", "foreshock/v1/P-0001/telemetry", "-m", _telemetry(3, refused_check_c=1)).returncode == 0
    _wait(lambda: platform.stored("P-0001", "refused_check_c"), "the unit's own telemetry stored")
    assert platform.pipe.ingest.metrics.get("received") == received + 1  # the two refused never reached it
    assert platform.stored("P-0002", "temperature_c") == []


def test_a_second_connection_with_the_units_client_id_shows_the_unit_offline(platform):
    """A gateway that keeps the unit's connection (last will, health) and publishes with mosquitto_pub -i P-0001
    beside it: every publish takes the session over, the broker publishes the will, and the unit reads
    offline while its data arrives."""
    import paho.mqtt.client as mqtt

    _in_doc("**One connection per unit**", "takes the session over. The broker closes the first connection and "
            "publishes its last will, so the unit shows `offline` while its data still arrives")
    base = "foreshock/v1/P-0001"
    unit = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="P-0001", reconnect_on_failure=False)
    unit.username_pw_set("P-0001", UNITS["P-0001"])
    unit.will_set(f"{base}/status", b'{"state":"offline"}', qos=1, retain=True)
    unit.connect("127.0.0.1", platform.broker.port, keepalive=60)
    unit.loop_start()
    try:
        online = json.dumps({"state": "online", "ts": _now_ms(), "firmware": "1.0.0"}).encode()
        unit.publish(f"{base}/status", online, qos=1, retain=True).wait_for_publish(WAIT_S)
        _wait(lambda: platform.pipe.registry.presence("P-0001").state == "online", "the unit online")
        sent = platform.pub("-t", f"{base}/telemetry", "-m", _telemetry(10, gateway_c=1.0))
        assert sent.returncode == 0, sent.stderr
        _wait(lambda: platform.stored("P-0001", "gateway_c"), "the gateway's telemetry stored")
        _wait(lambda: platform.pipe.registry.presence("P-0001").state == "offline", "the unit's will: offline")
        assert not unit.is_connected()  # the broker closed the unit's own connection
    finally:
        unit.loop_stop()
        unit.disconnect()


def test_a_retained_telemetry_is_dead_lettered_at_the_next_start_and_does_not_count_as_the_unit_seen(platform):
    _in_doc("Publish `telemetry` and `vibration` **without the retain flag**", "not storing it again: the "
            "original was handled when it was sent")
    ts = _now_ms() - 3_600_000  # an hour old: the detectors warned at every restart that the unit's clock went back
    assert platform.pub("-r", "-t", "foreshock/v1/P-0001/telemetry", "-m", _telemetry(20, ts, retained_c=1.0)).returncode == 0
    _wait(lambda: platform.stored("P-0001", "retained_c"), "the live message stored")
    before = len(platform.dead_letters())
    platform.stop()  # writes the last-seen times
    from devices.registry import Registry
    from foreshock.db import make_engine, session_factory

    engine = make_engine(f"sqlite:///{platform.tmp / 'foreshock.db'}")
    seen = Registry(session_factory(engine)).presence("P-0001").last_seen_ms
    engine.dispose()
    time.sleep(0.01)  # so that a unit marked seen at the restart would read later than `seen`
    platform.start()  # the broker hands ingest's new subscription the retained copy
    letter = platform.next_dead_letter(before)
    assert (letter["reason"], letter["topic"]) == ("schema", "foreshock/v1/P-0001/telemetry")
    assert letter["detail"].startswith("retained copy: the unit published this telemetry with the retain flag")
    assert json.loads(letter["payload"])["values"] == {"retained_c": 1.0}
    assert platform.pipe.registry.presence("P-0001").last_seen_ms == seen
    assert len(platform.stored("P-0001", "retained_c")) == 1
    # the document's way to clear it: an empty retained message, itself dead-lettered as bad_json
    before = len(platform.dead_letters())
    assert platform.pub("-r", "-n", "-t", "foreshock/v1/P-0001/telemetry").returncode == 0
    letter = platform.next_dead_letter(before)
    assert (letter["reason"], letter["detail"]) == ("bad_json", "empty payload: expected one JSON document")


def test_big_endian_samples_from_a_shell_are_dead_lettered_naming_the_byte_order(platform):
    _in_doc("samples_b64 is not little-endian float32")
    t = np.arange(2560) / 25600
    samples = 0.05 * np.sin(2 * np.pi * 29.7 * t) + np.random.default_rng(0).normal(0, 0.02, t.size)
    doc = {"ts": _now_ms(), "seq": 30, "axis": "x", "unit": "g", "fs": 25600, "rpm": 1780,
           "samples_b64": base64.b64encode(struct.pack(f">{t.size}f", *samples)).decode("ascii")}
    before = len(platform.dead_letters())
    assert platform.pub("-t", "foreshock/v1/P-0001/vibration", "-s", stdin=json.dumps(doc).encode()).returncode == 0
    letter = platform.next_dead_letter(before)
    assert letter["reason"] == "non_finite"
    assert letter["detail"].startswith("samples contain NaN or infinity: 6 of 2560, the first at index 308 "
                                       "(bytes 3d 24 81 7f). Unless the sensor sends NaN, samples_b64 is not "
                                       "little-endian float32")


def _retained(platform, topic: str) -> list[dict]:
    """The retained messages of ``topic`` (none or one), as a new subscriber gets them. The broker sends
    them right after the subscription's acknowledgement, in order on the connection: a marker published
    after it, on a second subscribed topic, comes after them, so "none" needs no waiting for a time."""
    import queue

    import paho.mqtt.client as mqtt

    from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

    got: queue.Queue = queue.Queue()
    marker = f"foreshock/walkthrough/{uuid.uuid4().hex[:8]}"
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"observer-{uuid.uuid4().hex[:8]}")
    c.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
    c.on_message = lambda client, userdata, msg: got.put((msg.topic, msg.payload))
    c.on_subscribe = lambda client, userdata, mid, rcs, props: client.publish(marker, b"end", qos=1)
    c.connect("127.0.0.1", platform.broker.port)
    c.loop_start()
    try:
        c.subscribe([(topic, 1), (marker, 1)])
        out = []
        while (m := got.get(timeout=WAIT_S))[0] != marker:
            out.append(json.loads(m[1]))
        return out
    finally:
        c.disconnect()
        c.loop_stop()


def test_the_health_topic_says_a_new_units_first_assessment_and_a_second_cause_of_unknown(platform):
    """Found in this walkthrough: a new unit whose first snapshot could not be assessed got no health message at
    all (it started `unknown`, and only changes were published), and a second cause of `unknown` was not
    published either, so the topic kept the first reason. Now the first assessment is published, `unknown` too,
    and so is a new first reason while `unknown` (at most once a minute per unit)."""
    _in_doc("a unit's first assessment, even `unknown` (a new unit whose first snapshots cannot be assessed reads "
            "why", "while the unit stays `unknown`, a new first reason", "at most once a minute per unit",
            "its latest assessment is also in `health.reasons` of `GET /api/v1/units/P-0001` (within 30 s: "
            "`foreshock run` writes it at each tick)")
    topic = "foreshock/v1/P-0001/health"
    vib = {"ts": _now_ms() - 3000, "seq": 40, "axis": "x", "unit": "g", "fs": 25600, "rpm": 1780,
           "samples_b64": "AAAAAM3MzD3NzEw+"}  # the document's three samples
    first = "cannot assess: 3 samples, at least 256 are needed"
    assert platform.pub("-t", "foreshock/v1/P-0001/vibration", "-m", json.dumps(vib)).returncode == 0
    _wait(lambda: platform.api("/units/P-0001")["health"]["reasons"] == [first], "the API to show the assessment")
    health = platform.health()  # the old platform: nothing retained for the unit (unknown -> unknown)
    assert (health["state"], health["reasons"]) == ("unknown", [first])

    assert platform.pub("-t", "foreshock/v1/P-0001/telemetry", "-m", _telemetry(41, _now_ms() - 2500)).returncode == 0
    _wait(lambda: platform.health()["state"] == "healthy", "the change to healthy")
    assert platform.pub("-t", "foreshock/v1/P-0001/vibration", "-m", json.dumps(dict(vib, ts=_now_ms() - 2000, seq=42))).returncode == 0
    _wait(lambda: platform.health()["reasons"] == [first], "the health topic to say why")

    t = np.arange(2560) / 1000
    samples = 0.05 * np.sin(2 * np.pi * 29.7 * t) + np.random.default_rng(1).normal(0, 0.02, t.size)
    slow = dict(vib, ts=_now_ms() - 1000, seq=43, fs=1000,
                samples_b64=base64.b64encode(struct.pack(f"<{t.size}f", *samples)).decode("ascii"))
    assert platform.pub("-t", "foreshock/v1/P-0001/vibration", "-m", json.dumps(slow)).returncode == 0
    # the old platform: the topic kept the first cause
    health = _wait(lambda: (h := platform.health())["reasons"] != [first] and h, "the topic to say the second cause")
    assert health["state"] == "unknown" and health["reasons"][0].startswith("cannot assess: sample rate 1000 Hz")
    [retained] = _retained(platform, topic)
    assert retained == health
