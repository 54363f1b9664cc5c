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

    from foreshock.broker import mosquitto_available
    from tests.servers import DEVICE_ACL, PLATFORM_PASSWORD, PLATFORM_USER, start_broker

    if not mosquitto_available():
        pytest.skip("mosquitto is not installed")
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)[0]
    broker = start_broker(workdir=tmp_path / "broker", users={PLATFORM_USER: PLATFORM_PASSWORD, "P-0001": "pw-1"},
                          acl=DEVICE_ACL, persistence=False)
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
        subscribed.get(timeout=60)  # generous bounds: a loaded CI machine
        for old, new in (('"the-password-from-provisioning"', '"pw-1"'),
                         ('"broker.example.com", 1883', f'"{broker.host}", {broker.port}')):
            assert old in code
            code = code.replace(old, new)
        exec(compile(code, "device-protocol.md", "exec"), {})  # noqa: S102 - the document's own example
        messages = [got.get(timeout=60) for _ in range(4)]
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


# ---------------------------------------------------------------------------------------------
# Every example of the document, sent by a unit through Mosquitto (with the ACL the platform writes)
# to the ingest service and its telemetry store: what the document says happens, happens.

TEXT = DOC.read_text()
DEV = "P-0001"
WAIT_S = 60.0  # generous bound on waiting for the broker and the service (a loaded CI machine); never a speed assertion


def _json_blocks() -> list[object]:
    return [json.loads(b) for b in _examples()]


def _in_doc(*snippets: str) -> None:
    for snippet in snippets:
        assert snippet in TEXT, f"the document no longer shows {snippet!r}: update this test with it"


class _Client:
    """An MQTT 5 client that waits for each PUBACK and returns its reason code."""

    def __init__(self, port: int, user: str, password: str) -> None:
        import queue
        import uuid

        import paho.mqtt.client as mqtt

        self.acks: dict[int, object] = {}
        self.acked = queue.Queue()
        connected = queue.Queue()
        client_id = user if user == DEV else f"doc-{uuid.uuid4().hex[:8]}"
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, password)
        self.c.on_connect = lambda c, u, flags, rc, props: connected.put(rc)
        self.c.on_publish = lambda c, u, mid, rc, props: self.acked.put((mid, rc))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert not connected.get(timeout=WAIT_S).is_failure

    def publish(self, topic_name: str, payload: bytes, *, retain: bool = False):
        info = self.c.publish(topic_name, payload, qos=1, retain=retain)
        while info.mid not in self.acks:
            mid, rc = self.acked.get(timeout=WAIT_S)
            self.acks[mid] = rc
        return self.acks.pop(info.mid)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


class _Platform:
    """Mosquitto + IngestService (influxd) + dead letters; ``send`` returns what became of one message."""

    def __init__(self, tmp, influx_url: str) -> None:
        from devices.broker_config import acl_text
        from foreshock.db import make_engine, migrate, session_factory
        from foreshock.settings import load_settings
        from foreshock.tsdb.influx1 import Influx1Store
        from ingest.deadletter import DeadLetterStore
        from ingest.service import IngestService
        from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER, start_broker

        self.broker = start_broker(workdir=tmp / "broker", users={PLATFORM_USER: PLATFORM_PASSWORD, DEV: "pw-1"},
                                   acl=acl_text([DEV], platform_user=PLATFORM_USER), persistence=False)
        self.engine = make_engine(f"sqlite:///{tmp / 'rel.db'}")
        migrate(self.engine)
        self.dead_letters = DeadLetterStore(session_factory(self.engine))
        settings = load_settings(
            data_dir=tmp, mqtt={"url": self.broker.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
                                "client_id": f"ingest-{tmp.name}"},
            telemetry={"backend": "influx1", "url": influx_url, "database": f"doc_{tmp.name}"[:60].replace("-", "_"),
                       "flush_interval_s": 0.05, "max_retries": 1, "max_retry_time_s": 1.0})
        self.store = Influx1Store.from_settings(settings.telemetry)
        self.handed: list = []
        self.service = IngestService(settings, self.store, self.dead_letters, device_check={DEV}.__contains__,
                                     on_batch=self.handed.extend, freeze_gc=False)
        self.service.start()
        assert self.service.source.wait_connected(WAIT_S)
        self.unit = _Client(self.broker.port, DEV, "pw-1")
        self.operator = _Client(self.broker.port, PLATFORM_USER, PLATFORM_PASSWORD)  # to reach topics a unit may not

    def send(self, kind: str, payload: bytes | str, *, device: str = DEV, retain: bool = False):
        """('accepted', IngestedMessage), ('rejected', DeadLetterEntry) or ('refused', PUBACK reason code)."""
        from tests.ingest.conftest import wait_until

        payload = payload.encode() if isinstance(payload, str) else payload
        n_handed, (_, n_dead) = len(self.handed), self.dead_letters.list(limit=1)
        client = self.unit if device == DEV else self.operator
        rc = client.publish(f"foreshock/v1/{device}/{kind}", payload, retain=retain)
        if rc.is_failure:
            return "refused", rc
        wait_until(lambda: len(self.handed) > n_handed or self.dead_letters.list(limit=1)[1] > n_dead,
                   WAIT_S, "the message accepted or dead-lettered")
        if len(self.handed) > n_handed:
            assert len(self.handed) == n_handed + 1
            return "accepted", self.handed[-1]
        rows, total = self.dead_letters.list(limit=1)
        assert total == n_dead + 1
        return "rejected", rows[0]

    def accepted(self, kind: str, payload, **kw):
        outcome, what = self.send(kind, payload, **kw)
        assert outcome == "accepted", (payload, what if outcome == "refused" else (what.reason, what.detail))
        return what.parsed

    def rejected(self, kind: str, payload) -> str:
        """The dead letter as `reason: detail`."""
        outcome, what = self.send(kind, payload)
        assert outcome == "rejected", (payload, outcome)
        return f"{what.reason}: {what.detail}"

    def close(self) -> None:
        self.unit.close()
        self.operator.close()
        self.service.stop(10)
        self.store.close()
        self.broker.cleanup()
        self.engine.dispose()


@pytest.fixture(scope="module")
def platform(influxd, tmp_path_factory):
    from foreshock.broker import mosquitto_available

    if not mosquitto_available():
        pytest.fail("mosquitto is not installed: run `make test` as root, or apt-get install mosquitto")
    plat = _Platform(tmp_path_factory.mktemp("doc-platform"), influxd.url)
    yield plat
    plat.close()


def _tel(ts, values=None, seq=1) -> str:
    return json.dumps({"ts": ts, "seq": seq, "values": values or {"temperature_c": 41.7}})



@pytest.mark.integration
def test_the_json_examples_are_stored_as_the_document_says(platform):
    tel_one, tel_batch, vib, status, health = _json_blocks()
    msg = platform.accepted("telemetry", json.dumps(tel_one))
    assert [(r.ts_ms, r.seq, r.values) for r in msg.records] == [(1795256130250, 1042, tel_one["values"])]
    msg = platform.accepted("telemetry", json.dumps(tel_batch))
    assert [(r.ts_ms, r.seq, r.values) for r in msg.records] == [
        (1795256130000, 1042, {"temperature_c": 41.7}), (1795256140000, 1043, {"temperature_c": 41.8})]
    snap = platform.accepted("vibration", json.dumps(vib)).snapshot
    assert snap.samples.tolist() == pytest.approx([0.0, 0.1, 0.2], abs=1e-7)  # "Three samples, 0.0, 0.1 and 0.2 g"
    assert (snap.ts_ms, snap.axis, snap.fs, snap.rpm) == (1795256130250, "x", 25600, 1780)
    _in_doc("Three samples, 0.0, 0.1 and 0.2 g")
    got = platform.accepted("status", json.dumps(status), retain=True).status
    assert (got.state, got.ts_ms, got.firmware) == ("online", 1795256130250, "2.4.1")
    assert platform.accepted("status", b'{"state":"offline"}', retain=True).status == p.StatusMessage("offline", None)
    _in_doc('payload `{"state":"offline"}`')

    rows = platform.store.query("telemetry", DEV, 1795256130000, 1795256140001)
    assert [(r.ts_ms, r.fields) for r in rows] == [  # the batch's first record and the single one: other ts
        (1795256130000, {"temperature_c": 41.7}),
        (1795256130250, {"temperature_c": 41.7, "current_a": 12.4, "speed_rpm": 1781.0}),
        (1795256140000, {"temperature_c": 41.8}),
    ]
    vib_rows = platform.store.query("vibration", DEV, 1795256130250, 1795256130251, tags={"axis": "x"})
    assert len(vib_rows) == 1 and vib_rows[0].fields["n"] == 3 and vib_rows[0].fields["rpm"] == 1780

    # health goes the other way: the unit may not publish it, and it is what the platform builds
    assert platform.send("health", json.dumps(health))[0] == "refused"
    built = p.health_payload(health["state"], health["ts"], failure_mode=health["failure_mode"],
                             ttf_s=health["ttf_s"], reasons=health["reasons"])
    assert json.loads(built) == health


@pytest.mark.integration
def test_a_three_sample_snapshot_is_stored_and_not_assessed_with_the_documented_reason(platform):
    from detectors.monitor import UnitMonitor
    from detectors.types import Snapshot

    vib = _json_blocks()[2]
    snap = platform.accepted("vibration", json.dumps(vib)).snapshot
    result = UnitMonitor().update_snapshot(Snapshot(snap.ts_ms / 1000, snap.fs, snap.samples, snap.rpm, snap.axis))
    reason = "cannot assess: 3 samples, at least 256 are needed"
    _in_doc(f'("{reason}")', f'["{reason}"]')
    assert result.state == "unknown" and result.reasons == [reason]


@pytest.mark.integration
@pytest.mark.parametrize("shown, ts, stored_ms", [
    ('`"2026-11-21T10:15:30.250Z"`', "2026-11-21T10:15:30.250Z", 1795256130250),
    ('`"2026-11-21T11:15:30+01:00"`', "2026-11-21T11:15:30+01:00", 1795256130000),
    ("`1795256130250`", 1795256130250, 1795256130250),
    ("`1795256130250.5`", 1795256130250.5, 1795256130250),
    ('`"2026-11-21T10:15:30.2509Z"` is `1795256130250`', "2026-11-21T10:15:30.2509Z", 1795256130250),
])
def test_the_documented_timestamps_are_stored_to_the_millisecond(platform, shown, ts, stored_ms):
    _in_doc(shown)
    assert platform.accepted("telemetry", _tel(ts)).records[0].ts_ms == stored_ms


@pytest.mark.integration
@pytest.mark.parametrize("shown, payload, dead_letter", [
    ('`"2026-11-21T10:15:30"`', _tel("2026-11-21T10:15:30"), "schema: ts: RFC 3339 timestamp needs a UTC offset or 'Z'"),
    ("leap\n  second (`:60`)", _tel("2016-12-31T23:59:60Z"), "schema: ts: '2016-12-31T23:59:60Z' is not an RFC 3339 timestamp"),
    ("`1795256130`", _tel(1795256130), "schema: ts: 1795256130 ms is before 2000-01-01 (is it in seconds?)"),
    ("`5.0` is refused", _tel(1795256130250, seq=5.0), "schema: seq: expected an integer, got float"),
    ("`true`", _tel(1795256130250, {"temperature_c": True}), "schema: values.temperature_c: expected a number, got bool"),
    ('`"41.7"`', _tel(1795256130250, {"temperature_c": "41.7"}),
     "schema: values.temperature_c: expected a number, got str"),
    ("`values.temperature_c: expected a number, got str`", _tel(1795256130250, {"temperature_c": "x"}),
     "schema: values.temperature_c: expected a number, got str"),
    ("`null`", _tel(1795256130250, {"temperature_c": None}),
     "schema: values.temperature_c: expected a number, got NoneType"),
    ("`NaN`", '{"ts": 1795256130250, "seq": 1, "values": {"temperature_c": NaN}}',
     "non_finite: values.temperature_c is not a finite number"),
    ("`Infinity`", '{"ts": 1795256130250, "seq": 1, "values": {"temperature_c": Infinity}}',
     "non_finite: values.temperature_c is not a finite number"),
    ("`-Infinity`", '{"ts": 1795256130250, "seq": 1, "values": {"temperature_c": -Infinity}}',
     "non_finite: values.temperature_c is not a finite number"),
    ("(`1e999`)", '{"ts": 1795256130250, "seq": 1, "values": {"temperature_c": 1e999}}',
     "non_finite: values.temperature_c is not a finite number"),
    ("`[3].values.temperature_c is not a\n  finite number`",
     "[" + ",".join(_tel(1795256130250 + i, {"temperature_c": "NaN"}).replace('"NaN"', "NaN" if i == 3 else "41.7")
                    for i in range(5)) + "]",
     "non_finite: [3].values.temperature_c is not a finite number"),
    ("`[1]: missing field(s) ts`", '[{"ts": 1795256130250, "seq": 1, "values": {"a_c": 1}}, {"seq": 2, "values": {"a_c": 1}}]',
     "schema: [1]: missing field(s) ts"),
    ("`device`, `axis` and `time` are reserved", _tel(1795256130250, {"time": 1}), "schema: values: name 'time' is reserved"),
    ('rather than send `""`', '{"state": "online", "firmware": ""}',
     "schema: firmware: expected a string of 1 to 64 characters (leave it out when unknown)"),
    ("a NUL, a\n  newline or a tab is refused as `schema`", '{"state": "online", "firmware": "2.4\\t1"}',
     "schema: firmware: control character U+0009 at position 3"),
    ("(no `seq`)", '{"state": "online", "seq": 1}', "schema: unknown field(s) 'seq'"),
    ('`{"temperature_c": 41.7, "temperature_c": 65.0}`',
     '{"ts": 1795256130250, "seq": 1, "values": {"temperature_c": 41.7, "temperature_c": 65.0}}',
     "schema: 'temperature_c' appears twice in one JSON object"),
    ("without a byte-order mark", b'\xef\xbb\xbf{"state": "online"}',
     "bad_json: the payload starts with a UTF-8 byte-order mark"),
])
def test_the_documented_rejections_are_dead_lettered_with_the_documented_detail(platform, shown, payload, dead_letter):
    _in_doc(shown)
    kind = "status" if b'"state"' in (payload if isinstance(payload, bytes) else payload.encode()) else "telemetry"
    assert platform.rejected(kind, payload).startswith(dead_letter)


@pytest.mark.integration
def test_numbers_nulls_and_vibration_fields_as_documented(platform):
    _in_doc("(`1781`, `41.7`, `4.17e1`)", "(a fraction is kept: `25600.5`)")
    rec = platform.accepted("telemetry", '{"ts": 1795256130251, "seq": 1, "values": {"a_c": 1781, "b_c": 41.7, "c_c": 4.17e1}}')
    assert rec.records[0].values == {"a_c": 1781.0, "b_c": 41.7, "c_c": 41.7}
    vib = dict(_json_blocks()[2], fs=25600.5, rpm=None)
    snap = platform.accepted("vibration", json.dumps(vib)).snapshot
    assert (snap.fs, snap.rpm) == (25600.5, None)
    assert platform.accepted("status", '{"state": "online", "ts": null, "firmware": null}', retain=True).status == \
        p.StatusMessage("online", None, None)
    snap = platform.accepted("vibration", json.dumps(dict(vib, rpm=0))).snapshot
    assert snap.rpm == 0  # stored as given; what the detectors make of it: test_rpm_0_means_stopped_...
    big = dict(vib, samples=[3.5e38])
    del big["samples_b64"]
    assert platform.rejected("vibration", json.dumps(big)) == "non_finite: samples exceed the float32 range"
    _in_doc("beyond ±3.4 × 10^38 is `non_finite`")
    for b64, detail in (("AAAAAM3MzD3N_Ew-", "character '_' at position 12 is not standard base64"),
                        ("AAAAAM3MzD3NzEw", "15 characters is not a multiple of 4 (the '=' padding is required)")):
        assert platform.rejected("vibration", json.dumps(dict(vib, samples_b64=b64))).startswith(
            f"schema: samples_b64: {detail}")
    _in_doc("the standard alphabet (`+` and `/`, not the URL-safe `-` and `_`), with `=` padding, on one line")


def test_rpm_0_means_stopped_for_a_model_with_a_rated_speed_and_left_out_without_one():
    """The document said that without `rpm` "or with 0" the speed is estimated from the spectrum. For a
    model with a `rated_rpm` (the document's own example) the detectors read 0 as a stopped machine: a
    firmware without a tachometer that sent 0, as invited, was never assessed and learnt nothing."""
    import numpy as np

    from detectors.monitor import UnitMonitor
    from detectors.types import BearingGeometry, MachineInfo, Snapshot

    t = np.arange(2560) / 25600
    samples = (0.05 * np.sin(2 * np.pi * 29.7 * t) + np.random.default_rng(0).normal(0, 0.02, t.size)).astype(np.float32)
    pump = MachineInfo(rated_rpm=1780, bearing=BearingGeometry(n_balls=9, ball_d=7.94, pitch_d=39.04))

    def reasons(machine: MachineInfo, rpm: float | None) -> list[str]:
        return UnitMonitor(machine).update_snapshot(Snapshot(600.0, 25600, samples, rpm, "x")).reasons

    stopped = "machine stopped (0 rpm): not assessed; last assessed state held"
    _in_doc("**0 means stopped, not unknown**", "a speed below a tenth of the model's `rated_rpm` is a stopped machine",
            f'"{stopped}"', "Only for a model without `rated_rpm` does 0 count as left out")
    assert reasons(pump, 0) == [stopped]
    assert reasons(pump, 0.09 * 1780) == ["machine stopped (160 rpm): not assessed; last assessed state held"]
    assert reasons(pump, None) == reasons(pump, 1780) == ["learning baseline (1/30)"]
    assert reasons(MachineInfo(), 0) == reasons(MachineInfo(), None) == ["learning baseline (1/30)"]


@pytest.mark.integration
def test_the_payload_limit_is_4_mib_through_the_broker(platform):
    _in_doc("4 MiB (4,194,304 bytes")
    body = _tel(1795256130252).encode()
    assert platform.accepted("telemetry", body + b" " * (4_194_304 - len(body)))
    assert platform.rejected("telemetry", body + b" " * (4_194_305 - len(body))) == \
        "too_large: payload is 4194305 bytes, at most 4194304"


@pytest.mark.integration
def test_resending_a_message_leaves_one_point_and_other_names_merge_into_it(platform):
    _in_doc("a second copy overwrites the first", "adds those values to the point")
    ts = 1795256130300
    for body in (_tel(ts, {"dup_c": 1.0}), _tel(ts, {"dup_c": 1.0}), _tel(ts, {"dup_c": 2.0}), _tel(ts, {"other_a": 5.0})):
        platform.accepted("telemetry", body)
    vib = _json_blocks()[2]
    for axis in ("x", "x", "y"):
        platform.accepted("vibration", json.dumps(dict(vib, ts=ts, axis=axis)))
    rows = platform.store.query("telemetry", DEV, ts, ts + 1)
    assert [(r.ts_ms, r.fields) for r in rows] == [(ts, {"dup_c": 2.0, "other_a": 5.0})]
    for axis in ("x", "y"):
        assert len(platform.store.query("vibration", DEV, ts, ts + 1, tags={"axis": axis})) == 1


@pytest.mark.integration
def test_topics_outside_the_units_own_are_refused_by_the_broker_and_never_reach_the_platform(platform):
    _in_doc("a misspelt kind (`…/temperature`)", "reason code `0x87` *Not\nauthorized*")
    received = platform.service.metrics.get("received")
    _in_doc("(`…/Telemetry` is another topic)")
    for topic_name in ("foreshock/v1/P-0001/temperature", "foreshock/v1/P-0002/telemetry", "foreshock/v1/P-0001/health",
                       "other/v1/P-0001/telemetry", "foreshock/v2/P-0001/telemetry", "foreshock/v1/P-0001/Telemetry"):
        rc = platform.unit.publish(topic_name, _tel(1795256130250).encode())
        assert rc.is_failure and rc.value == 0x87, (topic_name, rc)
    assert platform.accepted("telemetry", _tel(1795256130260))  # the next good one is the next the platform sees
    assert platform.service.metrics.get("received") == received + 1


@pytest.mark.integration
def test_every_reason_of_the_table_that_a_message_alone_can_cause(platform):
    """`rate_limited` needs the operator's limit (tests/reliability), `store_rejected` a store's refusal
    (tests/ingest/test_writer.py)."""
    now = p.now_ms()
    cases = {
        "bad_topic": ("-bad", "telemetry", _tel(now)),
        "unknown_device": ("P-9999", "telemetry", _tel(now)),
        "bad_json": (DEV, "telemetry", b""),
        "schema": (DEV, "telemetry", '{"ts": 1795256130250, "values": {"a_c": 1}}'),
        "non_finite": (DEV, "vibration", json.dumps(dict(_json_blocks()[2], samples_b64="AADAfw=="))),
        "too_large": (DEV, "telemetry", json.dumps([json.loads(_tel(now))] * 1001)),
        "future_timestamp": (DEV, "telemetry", _tel(now + 6 * 60_000)),
    }
    for reason, (device, kind, payload) in cases.items():
        _in_doc(f"| `{reason}` |")
        outcome, what = platform.send(kind, payload, device=device)
        assert (outcome, what.reason) == ("rejected", reason), (reason, what)


@pytest.mark.integration
def test_the_documented_names_and_limits_at_their_bounds(platform):
    names = ("temperature_c", "current_a", "speed_rpm", "pressure_bar", "voltage_v", "power_kw", "load_pct")
    _in_doc(*(f"`{n}`" for n in names), "`[a-z][a-z0-9_]{0,63}`", "`[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}`",
            "1 to 1,000 records", "1 to 256 names", "1 to 65,536 samples", "100 ≤ fs ≤ 200,000", "0 ≤ rpm ≤ 200,000")
    ts = 1795256130400
    assert platform.accepted("telemetry", _tel(ts, dict.fromkeys(names, 1.0))).records[0].values == dict.fromkeys(names, 1.0)
    assert platform.rejected("telemetry", _tel(ts, {"Temperature_c": 1})).startswith("schema: values: name 'Temperature_c'")
    assert platform.accepted("telemetry", _tel(ts, {"a" * 64: 1}))
    assert platform.rejected("telemetry", _tel(ts, {"a" * 65: 1})).startswith("schema: values: name")
    assert platform.accepted("telemetry", _tel(ts, {f"v{i}_c": i for i in range(256)}))
    assert platform.rejected("telemetry", _tel(ts, {f"v{i}_c": i for i in range(257)})) == \
        "too_large: values: 257 names, at most 256"
    batch = [json.loads(_tel(ts + i, seq=i)) for i in range(1000)]
    assert len(platform.accepted("telemetry", json.dumps(batch)).records) == 1000
    assert platform.rejected("telemetry", "[]") == "schema: empty batch: expected 1 to 1000 records"
    vib = _json_blocks()[2]
    del vib["samples_b64"]
    for n, outcome in ((1, "accepted"), (65_536, "accepted"), (65_537, "rejected")):
        assert platform.send("vibration", json.dumps(dict(vib, samples=[0.0] * n)))[0] == outcome, n
    for fs, outcome in ((100, "accepted"), (200_000, "accepted"), (99.9, "rejected"), (200_001, "rejected")):
        assert platform.send("vibration", json.dumps(dict(vib, samples=[0.0], fs=fs)))[0] == outcome, fs
    for rpm, outcome in ((200_000, "accepted"), (-1, "rejected"), (200_001, "rejected")):
        assert platform.send("vibration", json.dumps(dict(vib, samples=[0.0], rpm=rpm)))[0] == outcome, rpm
    assert p.is_valid_device_id("P-0001") and p.is_valid_device_id("a" * 64)
    assert not any(p.is_valid_device_id(d) for d in ("-P1", "a" * 65, "P 1", "P/1", "P+1", "P#1"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_models_axis_example_is_accepted_and_another_axis_refused(registry):
    _in_doc('`detector_config` `axis` if set (e.g. `{"axis": "y"}`; one of the five above, anything\n  else is refused')
    assert registry.create_model("M-1", detector_config={"axis": "y"}).detector_config == {"axis": "y"}
    with pytest.raises(ValueError, match="axis"):
        registry.create_model("M-2", detector_config={"axis": "radial"})


def test_the_documented_dead_letter_request_answers_an_engineer_and_not_a_service_token(tmp_path):
    """The document sent service teams to the dashboard and GET /api/v1/dead-letters: the dashboard has
    no such page and the API answers only role engineer or higher (a service token gets 403)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.testing import context_for
    from api.tokens import create_token
    from ingest.deadletter import DeadLetterStore

    m = re.search(r"`GET (/api/v1/dead-letters\?device_id=P-0001)` \(an API token of role `engineer`", TEXT)
    assert m, "the document no longer shows the dead-letter request"
    ctx = context_for(f"sqlite:///{tmp_path / 'api.db'}")
    ctx.deadletters = DeadLetterStore(ctx.session_factory)
    ctx.deadletters.add(reason="schema", topic="foreshock/v1/P-0001/telemetry", payload=b"{}",
                        received_at=1795256130.0, device_id="P-0001", detail="missing field(s) ts, seq, values")
    with ctx.session_factory() as session:
        tokens = {role: create_token(session=session, name=role, role=role)[1] for role in ("engineer", "service")}
        session.commit()
    client = TestClient(create_app(ctx))
    r = client.get(m.group(1), headers={"Authorization": f"Bearer {tokens['engineer']}"})
    assert r.status_code == 200 and [d["reason"] for d in r.json()["data"]] == ["schema"]
    assert client.get(m.group(1), headers={"Authorization": f"Bearer {tokens['service']}"}).status_code == 403
