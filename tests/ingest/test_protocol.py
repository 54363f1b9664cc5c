"""The device protocol parser as ingest uses it: every Reason, malformed input of every kind."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from devices import protocol
from devices.protocol import DEFAULT_LIMITS, Limits, ProtocolError, Reason, parse_message
from ingest.pipeline import Converter
from ingest.types import RawMessage

NOW_S = 1_700_000_000.0
TS = 1_700_000_000_000
TEL = "foreshock/v1/P-0001/telemetry"
VIB = "foreshock/v1/P-0001/vibration"
STA = "foreshock/v1/P-0001/status"


def parse(topic: str, payload: bytes | str, **kw):
    if isinstance(payload, str):
        payload = payload.encode()
    return parse_message(topic, payload, received_at=NOW_S, **kw)


def reason_of(topic: str, payload: bytes | str, **kw) -> Reason:
    with pytest.raises(ProtocolError) as info:
        parse(topic, payload, **kw)
    assert str(info.value).startswith(info.value.reason.value + ": ")
    return info.value.reason


def test_valid_messages_of_each_kind():
    msg = parse(TEL, protocol.telemetry_payload(TS, 1, {"temperature_c": 41.5}))
    assert msg.records[0].values == {"temperature_c": 41.5} and msg.records[0].ts_ms == TS
    batch = parse(TEL, protocol.telemetry_batch_payload([(TS, 1, {"a": 1}), (TS + 1, 2, {"a": 2})]))
    assert [r.seq for r in batch.records] == [1, 2]
    samples = np.linspace(-1, 1, 256, dtype=np.float32)
    vib = parse(VIB, protocol.vibration_payload(TS, 3, samples, 25600.0, axis="z", rpm=1500.0))
    assert vib.snapshot.axis == "z" and np.array_equal(vib.snapshot.samples, samples)
    vib_list = parse(VIB, protocol.vibration_payload(TS, 3, samples, 25600.0, binary=False))
    assert vib_list.snapshot.samples.dtype == np.float32
    status = parse(STA, protocol.status_payload("online", TS, "fw-1"))
    assert status.status.state == "online" and status.status.firmware == "fw-1"
    iso = parse(TEL, json.dumps({"ts": "2023-11-14T22:13:20Z", "seq": 0, "values": {"a": 1}}))
    assert iso.records[0].ts_ms == TS


@pytest.mark.parametrize(
    "topic",
    ["foreshock/v1/P-0001", "other/v1/P-0001/telemetry", "foreshock/v2/P-0001/telemetry",
     "foreshock/v1/P 0001/telemetry", "foreshock/v1/P-0001/health", "foreshock/v1/P-0001/telemetry/x", ""],
)
def test_bad_topic(topic):
    assert reason_of(topic, b"{}") is Reason.BAD_TOPIC


@pytest.mark.parametrize("payload", [b"{oops", b"", b"\xff\xfe", b'{"ts": 1,}', b"[1, 2", b'{"a": "\xc3\x28"}'])
def test_bad_json(payload):
    assert reason_of(TEL, payload) is Reason.BAD_JSON


@pytest.mark.parametrize(
    "doc",
    [
        {"ts": TS, "seq": 1},  # missing values
        {"ts": TS, "seq": 1, "values": {}},
        {"ts": TS, "seq": 1, "values": {"Temp": 1}},  # bad name
        {"ts": TS, "seq": 1, "values": {"t": "hot"}},
        {"ts": TS, "seq": 1, "values": {"t": True}},
        {"ts": TS, "seq": -1, "values": {"t": 1}},
        {"ts": TS, "seq": 1.5, "values": {"t": 1}},
        {"ts": TS, "seq": 1, "values": {"t": 1}, "extra": 1},
        {"ts": 1_700_000_000, "seq": 1, "values": {"t": 1}},  # seconds, not ms
        {"ts": "yesterday", "seq": 1, "values": {"t": 1}},
        {"ts": "2023-11-14T22:13:20", "seq": 1, "values": {"t": 1}},  # no offset
        [],
        "a string",
        [[[[{"ts": TS}]]]],  # too deep
    ],
)
def test_schema_errors_in_telemetry(doc):
    assert reason_of(TEL, json.dumps(doc)) is Reason.SCHEMA


@pytest.mark.parametrize(
    "doc",
    [
        {"ts": TS, "seq": 1, "axis": "q", "unit": "g", "fs": 25600, "samples": [0.1]},
        {"ts": TS, "seq": 1, "axis": "x", "unit": "m/s2", "fs": 25600, "samples": [0.1]},
        {"ts": TS, "seq": 1, "axis": "x", "unit": "g", "fs": 10, "samples": [0.1]},
        {"ts": TS, "seq": 1, "axis": "x", "unit": "g", "fs": 25600},
        {"ts": TS, "seq": 1, "axis": "x", "unit": "g", "fs": 25600, "samples": []},
        {"ts": TS, "seq": 1, "axis": "x", "unit": "g", "fs": 25600, "samples": [0.1, "x"]},
        {"ts": TS, "seq": 1, "axis": "x", "unit": "g", "fs": 25600, "samples_b64": "***"},
        {"ts": TS, "seq": 1, "axis": "x", "unit": "g", "fs": 25600, "samples_b64": base64.b64encode(b"abc").decode()},
        {"ts": TS, "seq": 1, "axis": "x", "unit": "g", "fs": 25600, "samples": [0.1], "rpm": -5},
    ],
)
def test_schema_errors_in_vibration(doc):
    assert reason_of(VIB, json.dumps(doc)) is Reason.SCHEMA


@pytest.mark.parametrize("doc", [{"state": "sleeping"}, {"state": "online", "firmware": 7}, {}])
def test_schema_errors_in_status(doc):
    assert reason_of(STA, json.dumps(doc)) is Reason.SCHEMA


@pytest.mark.parametrize("firmware, code, pos", [("\x00abc", "U+0000", 0), ("2.4.1\n", "U+000A", 5),
                                                 ("2.4\t1", "U+0009", 3), ("2.4.1\x7f", "U+007F", 5)])
def test_firmware_with_a_control_character_is_refused_by_name(firmware, code, pos):
    """A NUL in ``firmware`` passed the parser and then failed the unit's update on PostgreSQL ("text fields
    cannot contain NUL"): the status was neither applied nor dead-lettered, only logged as a detection error."""
    with pytest.raises(ProtocolError) as info:
        parse(STA, json.dumps({"state": "online", "firmware": firmware}))
    assert info.value.reason is Reason.SCHEMA
    assert f"firmware: control character {code} at position {pos}" in str(info.value)


@pytest.mark.parametrize("name", ["device", "axis", "time"])
def test_value_names_the_store_keeps_for_itself_are_refused_by_name(name):
    """On InfluxDB 1.x one unit sending {"values": {"device": 1}} made every unit's telemetry vanish from
    queries (InfluxQL read WHERE "device" = 'P-0001' as that field), and a value named "time" was refused
    by InfluxDB (HTTP 400) after the platform had accepted the message."""
    for payload in ({"ts": TS, "seq": 1, "values": {"temperature_c": 40.0, name: 1}},
                    [{"ts": TS, "seq": 1, "values": {"temperature_c": 40.0}}, {"ts": TS, "seq": 2, "values": {name: 1}}]):
        with pytest.raises(ProtocolError) as info:
            parse(TEL, json.dumps(payload))
        assert info.value.reason is Reason.SCHEMA
        assert f"values: name {name!r} is reserved" in str(info.value)
    assert str(info.value).startswith("schema: [1].values:")  # the record's index in a batch
    assert not protocol.is_valid_value_name(name)
    assert protocol.is_valid_value_name(f"{name}_temperature_c")
    assert parse(TEL, json.dumps({"ts": TS, "seq": 1, "values": {f"{name}_id": 1}})).records[0].values == {f"{name}_id": 1}


def test_an_integer_of_thousands_of_digits_is_a_schema_error_without_python_advice():
    """It was bad_json "... Exceeds the limit (4300 digits) for integer string conversion ...; use
    sys.set_int_max_str_digits() ...": the payload is valid JSON, and the advice is for Python programmers."""
    with pytest.raises(ProtocolError) as info:
        parse(TEL, '{"ts": %d, "seq": 1, "values": {"temperature_c": %s}}' % (TS, "9" * 5000))
    assert info.value.reason is Reason.SCHEMA
    assert "a number has more digits than any field can hold" in str(info.value)
    assert "sys." not in str(info.value)


def test_firmware_of_printable_text_is_accepted():
    for firmware in ("2.4.1", "v2.4.1-rc1 (build 77)", "é" * 64):
        assert parse(STA, json.dumps({"state": "online", "firmware": firmware})).status.firmware == firmware


@pytest.mark.parametrize(
    "topic, payload",
    [
        (TEL, b'{"ts": %d, "seq": 1, "values": {"t": NaN}}' % TS),
        (TEL, b'{"ts": %d, "seq": 1, "values": {"t": Infinity}}' % TS),
        (TEL, b'{"ts": %d, "seq": 1, "values": {"t": 1e999}}' % TS),
        (VIB, json.dumps({"ts": TS, "seq": 1, "axis": "x", "unit": "g", "fs": 25600,
                          "samples_b64": base64.b64encode(np.array([1.0, np.nan], "<f4").tobytes()).decode()}).encode()),
        (VIB, b'{"ts": %d, "seq": 1, "axis": "x", "unit": "g", "fs": 25600, "samples": [1e300]}' % TS),
    ],
)
def test_non_finite(topic, payload):
    assert reason_of(topic, payload) is Reason.NON_FINITE


def test_too_large():
    small = Limits(max_payload_bytes=1024)
    assert reason_of(TEL, b" " * 2000, limits=small) is Reason.TOO_LARGE
    batch = [{"ts": TS, "seq": i, "values": {"a": 1}} for i in range(DEFAULT_LIMITS.max_batch + 1)]
    assert reason_of(TEL, json.dumps(batch)) is Reason.TOO_LARGE
    many = {f"v{i}": 1 for i in range(DEFAULT_LIMITS.max_values + 1)}
    assert reason_of(TEL, json.dumps({"ts": TS, "seq": 1, "values": many})) is Reason.TOO_LARGE
    samples = np.zeros(DEFAULT_LIMITS.max_samples + 1, np.float32)
    assert reason_of(VIB, protocol.vibration_payload(TS, 1, samples, 25600.0)) is Reason.TOO_LARGE
    assert reason_of(TEL, b"[" * 100_000 + b"]" * 100_000) in (Reason.TOO_LARGE, Reason.SCHEMA)


def test_future_timestamp_beyond_tolerance_only():
    ahead = int((NOW_S + 301) * 1000)
    assert reason_of(TEL, protocol.telemetry_payload(ahead, 1, {"a": 1})) is Reason.FUTURE_TIMESTAMP
    parse(TEL, protocol.telemetry_payload(int((NOW_S + 299) * 1000), 1, {"a": 1}))
    assert reason_of(STA, protocol.status_payload("online", ahead)) is Reason.FUTURE_TIMESTAMP
    lenient = Limits(future_tolerance_s=3600)
    parse(TEL, protocol.telemetry_payload(ahead, 1, {"a": 1}), limits=lenient)


def test_reasons_decided_by_ingest_not_the_parser():
    """unknown_device comes from the device check, store_rejected from the store (see test_writer),
    rate_limited is reserved (ingest is stateless; see docs/telemetry-store.md)."""
    conv = Converter(device_check=lambda d: False)
    _, rejected = conv.convert([RawMessage(TEL, protocol.telemetry_payload(TS, 1, {"a": 1}), NOW_S)])
    assert [r.reason for r in rejected] == [Reason.UNKNOWN_DEVICE.value]
    assert {r.value for r in Reason} == {
        "bad_topic", "unknown_device", "bad_json", "schema", "non_finite", "too_large",
        "future_timestamp", "rate_limited", "store_rejected",
    }


@pytest.mark.parametrize(
    "topic, doc, detail",
    [
        (TEL, {"ts": TS, "values": {"t": 1}}, "missing field(s) seq"),
        (TEL, {"ts": TS, "seq": 1, "values": {"t": 1}, "device": "P-2"}, "unknown field(s) 'device'"),
        (TEL, [{"ts": TS, "seq": 1, "values": {"t": 1}}, {"seq": 2, "values": {"t": 1}}], "[1]: missing field(s) ts"),
        (TEL, [{"ts": TS, "seq": 1, "values": {"t": 1}}, 7], "[1]: expected a JSON object, got int"),
        (VIB, {"ts": TS, "seq": 1, "axis": "x", "fs": 25600, "samples": [0.1]}, "missing field(s) unit"),
        (STA, {"ts": TS}, "missing field(s) state"),
    ],
)
def test_field_errors_name_the_record_without_a_stray_separator(topic, doc, detail):
    """The detail a firmware engineer reads in the dead letters: '[1]: missing field(s) ts' (was
    '[1].: missing ...'), and for a single record just 'missing field(s) seq' (was ': missing ...')."""
    with pytest.raises(ProtocolError) as info:
        parse(topic, json.dumps(doc))
    assert info.value.reason is Reason.SCHEMA and info.value.detail == detail


def _detail(topic: str, payload: bytes | str) -> str:
    with pytest.raises(ProtocolError) as info:
        parse(topic, payload)
    return str(info.value)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_literal_is_named_by_its_field_and_record(literal):
    """A NaN literal (what many JSON encoders write for a failed sensor) was refused at decoding, before
    any field was known: the detail read `NaN is not a finite number`, not the record and value the
    document promises (`[3].values.temperature_c ...`); only 1e999 was named."""
    batch = "[" + ",".join(f'{{"ts": {TS}, "seq": {i}, "values": {{"temperature_c": {41.0 if i != 3 else literal}}}}}'
                           for i in range(5)) + "]"
    assert _detail(TEL, batch) == "non_finite: [3].values.temperature_c is not a finite number"
    assert _detail(TEL, f'{{"ts": {literal}, "seq": 1, "values": {{"a": 1}}}}') == "non_finite: ts is not a finite number"
    vib = f'{{"ts": {TS}, "seq": 1, "axis": "x", "unit": "g", "fs": {literal}, "samples": [0.0]}}'
    assert _detail(VIB, vib) == "non_finite: fs is not a finite number"
    assert _detail(VIB, f'{{"ts": {TS}, "seq": 1, "axis": "x", "unit": "g", "fs": 25600, "samples": [0.1, {literal}]}}') \
        == "non_finite: samples contain NaN or infinity"
    assert reason_of(TEL, f'{{"ts": {TS}, "seq": {literal}, "values": {{"a": 1}}}}') is Reason.SCHEMA  # not an integer


@pytest.mark.parametrize("text, ms", [
    ("2023-11-14T22:13:20.2409999Z", TS + 240),
    ("2023-11-14T22:13:20.999999Z", TS + 999),
    ("2023-11-14T23:13:20.0015+01:00", TS + 1),
    ("2023-11-14T22:13:20.001Z", TS + 1),
    ("2023-11-14T22:13:20Z", TS),
])
def test_rfc3339_digits_beyond_the_millisecond_are_dropped_like_an_epoch_fraction(text, ms):
    """Epoch milliseconds with a fraction lose it (`1795256130250.5` is ...250); a string's sub-millisecond
    digits were rounded instead (`.2409999Z` became ...241, `.999999Z` the next second), so one instant sent
    both ways made two points, not one."""
    as_string = parse(TEL, json.dumps({"ts": text, "seq": 1, "values": {"a": 1}})).records[0].ts_ms
    as_number = parse(TEL, json.dumps({"ts": ms + 0.9, "seq": 1, "values": {"a": 1}})).records[0].ts_ms
    assert as_string == as_number == ms


def test_a_string_timestamp_before_2000_is_not_asked_whether_it_is_in_seconds():
    assert _detail(TEL, json.dumps({"ts": "1999-12-31T23:59:59Z", "seq": 1, "values": {"a": 1}})) == \
        "schema: ts: '1999-12-31T23:59:59Z' is before 2000-01-01"
    assert _detail(TEL, json.dumps({"ts": TS // 1000, "seq": 1, "values": {"a": 1}})).endswith("(is it in seconds?)")


def test_an_empty_firmware_is_refused_not_recorded_as_a_version():
    """`"firmware": ""` was accepted and replaced the unit's recorded firmware with '' (a fleet-report
    group of its own); left out, the recorded firmware stays."""
    assert _detail(STA, '{"state": "online", "firmware": ""}') == \
        "schema: firmware: expected a string of 1 to 64 characters (leave it out when unknown)"
    assert parse(STA, '{"state": "online"}').status.firmware is None


@pytest.mark.parametrize("text, says", [
    ("AAAAAM3MzD3NzEw", "15 characters is not a multiple of 4 (the '=' padding is required)"),
    ("AAAAAM3M\nzD3NzEw+", "character '\\n' at position 8 is not standard base64"),
    ("AAAAAM3MzD3N_Ew-", "character '_' at position 12 is not standard base64"),
    ("AA==AAAA", "not valid base64 ('=' only as padding at the end)"),
])
def test_samples_b64_errors_say_what_is_wrong(text, says):
    """Every malformed samples_b64 said only `not valid base64`: a firmware engineer could not tell a
    missing padding from a URL-safe alphabet or a line-wrapping encoder."""
    doc = {"ts": TS, "seq": 1, "axis": "x", "unit": "g", "fs": 25600, "samples_b64": text}
    assert _detail(VIB, json.dumps(doc)).startswith(f"schema: samples_b64: {says}")


@pytest.mark.parametrize("text", [
    "2023-11-14T22Z",  # hours only: stored as 22:00:00 (a formatting bug that cut off minutes and seconds)
    "2023-11-14T22:13Z",  # no seconds: stored as 22:13:00
    "20231114T221320Z",  # ISO 8601 basic format
    "2023-W46-2T22:13:20Z",  # ISO week date
    "2023-11-14X22:13:20Z",  # any character between date and time
    "2023-11-14T22:13:20,5Z",  # decimal comma
    "2023-11-14T23:13:20+0100",  # offset without its colon (C's strftime %z)
    "2023-11-14T23:13:20+01",  # offset without minutes
    "2023-11-14T22:13:20+00:00:30",  # offset with seconds
    "2023-11-14T22:13:20.Z",  # a decimal point without digits
])
def test_a_timestamp_string_that_is_not_rfc_3339_is_refused(text):
    """Python's `datetime.fromisoformat` takes most of ISO 8601, and so the platform took forms the
    document does not allow: a string cut short by a formatting bug (`2023-11-14T22Z`) was stored as
    22:00:00, a wrong time nobody was told about. Only RFC 3339 `date-time` is accepted."""
    assert _detail(TEL, json.dumps({"ts": text, "seq": 1, "values": {"a": 1}})).startswith(
        f"schema: ts: {text!r} is not an RFC 3339 timestamp (like '2023-11-14T22:13:20.250Z'")


@pytest.mark.parametrize("text, ms", [
    ("2023-11-14t22:13:20z", TS),  # RFC 3339 section 5.6: T and Z may be lower case
    ("2023-11-14 22:13:20Z", TS),  # ... and a space may separate date and time
    ("2023-11-14T22:13:20.2Z", TS + 200),
    ("2023-11-14T20:13:20-02:00", TS),
    ("2023-11-14T22:13:20-00:00", TS),
])
def test_rfc_3339_timestamps_in_all_their_forms_are_accepted(text, ms):
    assert parse(TEL, json.dumps({"ts": text, "seq": 1, "values": {"a": 1}})).records[0].ts_ms == ms


@pytest.mark.parametrize("payload, detail", [
    (b"", "bad_json: empty payload: expected one JSON document"),
    (b'\xef\xbb\xbf{"state": "online"}', "bad_json: the payload starts with a UTF-8 byte-order mark (EF BB BF); "
                                         "send the JSON without it"),
])
def test_an_empty_payload_and_a_byte_order_mark_are_named(payload, detail):
    """Both were dead-lettered as `not valid JSON: Expecting value: line 1 column 1 (char 0)`: for a BOM,
    invisible in the dead letter's payload, a firmware engineer saw a valid document refused at its
    first character."""
    assert _detail(STA, payload) == detail


@pytest.mark.parametrize("topic, payload, name", [
    (TEL, '{"ts": %d, "seq": 1, "values": {"temperature_c": 41.7, "temperature_c": 65.0}}' % TS, "temperature_c"),
    (TEL, '[{"ts": %d, "seq": 1, "values": {"a_c": 1}}, {"ts": %d, "seq": 2, "ts": 1, "values": {"a_c": 1}}]' % (TS, TS),
     "ts"),
    (VIB, '{"ts": %d, "seq": 1, "axis": "x", "axis": "y", "unit": "g", "fs": 25600, "samples": [0.1]}' % TS, "axis"),
    (STA, '{"state": "online", "state": "offline"}', "state"),
])
def test_a_name_given_twice_in_one_object_is_refused(topic, payload, name):
    """Python's JSON decoder keeps the last of two equal names: two sensors a firmware configured under
    one name (`temperature_c` twice) lost the first one's readings without a word."""
    assert _detail(topic, payload) == (f"schema: {name!r} appears twice in one JSON object "
                                       "(names must be unique; only the last would be kept)")
