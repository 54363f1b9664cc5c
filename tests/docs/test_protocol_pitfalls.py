"""What docs/device-protocol.md tells a firmware team about the mistakes they make in practice, checked
against the parser and the converter ingest runs (the document's examples themselves are checked by
tests/devices/test_protocol_doc.py; the same mistakes through Mosquitto and mosquitto_pub in
tests/e2e/test_firmware_walkthrough.py).

Each test first finds the document's words, so that the document and the product cannot drift apart.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from devices import protocol as p
from ingest.pipeline import Converter
from ingest.types import RawMessage

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
TEXT = DOC.read_text(encoding="utf-8")
FLAT = " ".join(TEXT.split())  # the document's words, whatever its line breaks
VIB = "foreshock/v1/P-0001/vibration"
TEL = "foreshock/v1/P-0001/telemetry"
STA = "foreshock/v1/P-0001/status"
NOW_S = 1795256130.250 + 60


def _in_doc(*snippets: str) -> None:
    for snippet in snippets:
        assert " ".join(snippet.split()) in FLAT, f"the document no longer says {snippet!r}: update this test with it"


def _vibration(blob: bytes) -> bytes:
    return json.dumps({"ts": 1795256130250, "seq": 77, "axis": "x", "unit": "g", "fs": 25600, "rpm": 1780,
                       "samples_b64": base64.b64encode(blob).decode("ascii")}).encode()


def _detail(topic: str, payload: bytes) -> str:
    with pytest.raises(p.ProtocolError) as info:
        p.parse_message(topic, payload, received_at=NOW_S)
    return str(info.value)


def _signal() -> np.ndarray:
    """2,560 samples of a 29.7 Hz line and noise at 25.6 kHz, as the document's minimal device sends (seeded)."""
    t = np.arange(2560) / 25600
    return (0.05 * np.sin(2 * np.pi * 29.7 * t) + np.random.default_rng(0).normal(0, 0.02, t.size)).astype(np.float32)


def test_the_documented_bytes_of_the_example_are_little_endian_float32():
    _in_doc("decodes to the 12 bytes `00 00 00 00 cd cc cc 3d cd cc 4c 3e`: 0.1 g is `cd cc cc 3d`",
            "Big-endian bytes (`3d cc cc cd`)")
    example = json.loads(re.findall(r"```json\n(.*?)```", TEXT, flags=re.S)[2])
    blob = base64.b64decode(example["samples_b64"])
    assert blob.hex(" ") == "00 00 00 00 cd cc cc 3d cd cc 4c 3e"
    assert blob == struct.pack("<3f", 0.0, 0.1, 0.2)  # what C's memcpy of a float writes on an ESP32
    assert struct.pack(">f", 0.1).hex(" ") == "3d cc cc cd"


def test_big_endian_samples_are_refused_naming_the_encoding_as_the_document_shows():
    """It said only `samples contain NaN or infinity`: a firmware team looked for NaN its sensor never sent,
    when the samples were big-endian. The detail now counts them, gives the first one's index and bytes,
    and names the encoding; the document quotes it for these samples."""
    shown = re.search(r"sent big-endian: `(samples contain NaN or infinity: .*?)\.\.\.`", FLAT)
    assert shown, "the document no longer quotes the big-endian detail"
    detail = _detail(VIB, _vibration(_signal().astype(">f4").tobytes()))
    assert detail.startswith("non_finite: " + shown.group(1).strip()), detail
    assert detail.endswith("big-endian, float64 or integer samples read as such give NaN and absurd values")


def test_integer_samples_are_refused_naming_the_encoding():
    detail = _detail(VIB, _vibration((_signal() * 1000).astype("<i2").tobytes()))
    assert re.fullmatch(r"non_finite: samples contain NaN or infinity: \d+ of 1280, the first at index \d+ "
                        r"\(bytes( [0-9a-f]{2}){3} [0-9a-f]{2}\)\. Unless the sensor sends NaN, samples_b64 is not "
                        r"little-endian float32: .*", detail), detail
    assert " of 1280, the first at index 0 (bytes 02 00 fe ff)" in detail


def test_double_samples_without_nan_are_stored_and_the_detectors_say_why_they_cannot_assess():
    from detectors.monitor import UnitMonitor
    from detectors.types import BearingGeometry, MachineInfo, Snapshot

    reason = "cannot assess: samples reach 3.69e+19 g, beyond any accelerometer (100000 g)"
    _in_doc(f'the same samples sent as `double`: "{reason}"')
    snap = p.parse_message(VIB, _vibration(_signal().astype("<f8").tobytes()), received_at=NOW_S).snapshot
    assert snap.samples.size == 5120
    pump = MachineInfo(rated_rpm=1780, bearing=BearingGeometry(n_balls=9, ball_d=7.94, pitch_d=39.04))
    result = UnitMonitor(pump).update_snapshot(Snapshot(snap.ts_ms / 1000, snap.fs, snap.samples, snap.rpm, "x"))
    assert (result.state, result.reasons) == ("unknown", [reason])


def test_a_signalling_nan_is_refused_without_a_numpy_warning():
    """Widening a float32 signalling NaN to float64 printed `RuntimeWarning: invalid value encountered in
    cast` on the service's stderr, outside its log, once per such snapshot."""
    blob = bytes.fromhex("00000000 0100807f")  # 0.0, then a signalling NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detail = _detail(VIB, _vibration(blob))
    assert detail.startswith("non_finite: samples contain NaN or infinity: 1 of 2, the first at index 1 "
                             "(bytes 01 00 80 7f)")


def test_good_samples_b64_still_decode_to_a_writable_float32_array():
    snap = p.parse_message(VIB, _vibration(_signal().astype("<f4").tobytes()), received_at=NOW_S).snapshot
    assert snap.samples.dtype == np.float32 and snap.samples.flags.writeable
    assert np.array_equal(snap.samples, _signal())


def test_an_integer_literal_beyond_the_float_range_is_schema_and_1e999_non_finite():
    _in_doc("an integer literal beyond it (`1` followed by 309 zeros) is rejected as `schema` "
            "(`integer too large for a 64-bit float`)")
    body = '{"ts": 1795256130250, "seq": 1, "values": {"temperature_c": %s}}'
    assert _detail(TEL, (body % ("1" + "0" * 309)).encode()) == \
        "schema: values.temperature_c: integer too large for a 64-bit float"
    assert p.parse_message(TEL, (body % ("1" + "0" * 308)).encode(), received_at=NOW_S).records[0].values == \
        {"temperature_c": 1e308}
    assert _detail(TEL, (body % "1e999").encode()) == "non_finite: values.temperature_c is not a finite number"


@pytest.mark.parametrize("ts, detail", [
    (1795256130250000, "ts: 1795256130250000 looks like epoch microseconds, not milliseconds; send 1795256130250"),
    (1795256130250000123, "ts: 1795256130250000123 looks like epoch nanoseconds, not milliseconds; send 1795256130250"),
    (1795256130250 + 10 * 60_000, "ts is 540 s in the future (more than 300 s allowed)"),  # a clock 10 min ahead
    (10**15 * 7, "ts is 6998204743810 s in the future (more than 300 s allowed)"),  # nothing it resembles
])
def test_a_timestamp_in_microseconds_or_nanoseconds_is_named_so(ts, detail):
    """Epoch microseconds (`tv_sec * 1000000 + tv_usec`) were refused as "ts is 1793540568785 s in the future":
    true, and no help; with three such units the rejection log blamed the server's clock."""
    _in_doc("(`ts: 1795256130250000 looks like epoch microseconds, not milliseconds; send 1795256130250`)")
    body = json.dumps({"ts": ts, "seq": 1, "values": {"temperature_c": 41.7}}).encode()
    assert _detail(TEL, body) == f"future_timestamp: {detail}"


@pytest.mark.parametrize("ts, hint", [
    (1795256130, " (is it in seconds?)"),
    (1795256130.25, " (is it in seconds?)"),
    (5000, ": the unit's clock is not set (time since boot, or no NTP/SNTP yet); send once it is"),
    (946684799999, ": the unit's clock is not set (time since boot, or no NTP/SNTP yet); send once it is"),
])
def test_a_timestamp_before_2000_says_whether_it_is_seconds_or_an_unset_clock(ts, hint):
    """Before its clock is set a unit stamps milliseconds since boot (5000): it was asked "is it in seconds?"."""
    _in_doc("`ts: 1795256130 ms is before 2000-01-01 (is it in seconds?)`",
            "`ts: 5000 ms is before 2000-01-01: the unit's clock is not set (time since boot, or no NTP/SNTP yet); "
            "send once it is`")
    body = json.dumps({"ts": ts, "seq": 1, "values": {"temperature_c": 41.7}}).encode()
    assert _detail(TEL, body) == f"schema: ts: {int(ts)} ms is before 2000-01-01{hint}"
    status = json.dumps({"state": "online", "ts": ts}).encode()
    assert _detail(STA, status) == f"schema: ts: {int(ts)} ms is before 2000-01-01{hint}"


def test_three_units_in_microseconds_are_not_taken_for_the_servers_clock_behind(tmp_path, caplog):
    """The rejection log blames the server's clock when three units are refused as in the future by a similar
    offset (tests/ingest/test_rejection_log.py); three units sending microseconds were exactly that."""
    import logging

    from foreshock.settings import load_settings
    from ingest.deadletter import NewDeadLetter
    from ingest.service import IngestService

    letters = []
    for unit in ("P-1", "P-2", "P-3"):
        topic = f"foreshock/v1/{unit}/telemetry"
        body = json.dumps({"ts": 1795256130250000, "seq": 1, "values": {"temperature_c": 1}}).encode()
        with pytest.raises(p.ProtocolError) as info:
            p.parse_message(topic, body, received_at=NOW_S)
        letters.append(NewDeadLetter(info.value.reason.value, topic, body, NOW_S, unit, info.value.detail))
    service = IngestService(load_settings(data_dir=tmp_path), store=None, dead_letters=None, device_check=None)
    caplog.set_level(logging.WARNING, logger="ingest.service")
    service.report_rejections(letters, now=100.0)
    (line,) = [r.getMessage() for r in caplog.records]
    assert "looks like epoch microseconds" in line and "clock" not in line, line


@pytest.mark.parametrize("tail, zeros", [(b"\x00", 1), (b"\x00" * 200, 200)])
def test_a_c_strings_terminating_nul_is_named(tail, zeros):
    """`esp_mqtt_client_publish(client, topic, buf, strlen(buf) + 1, 1, 0)` (or sizeof buf): the dead letter
    read `not valid JSON: Extra data: line 1 column 55 (char 54)`, and its stored payload shows no NUL."""
    _in_doc("without a C string's terminating NUL (publish `strlen(buf)` bytes, not `strlen(buf) + 1` or `sizeof buf`; "
            "the dead letter then says `the payload ends with 1 NUL byte(s) (00) after byte 54: ...`)")
    text = b'{"ts": 1795256130250, "seq": 1, "values": {"t_c": 10}}'
    assert len(text) == 54
    assert _detail(TEL, text + tail) == (
        f"bad_json: the payload ends with {zeros} NUL byte(s) (00) after byte 54: a C string's terminator or the rest "
        "of a buffer; publish only the JSON text's bytes (strlen, not sizeof)")
    assert p.parse_message(TEL, text + b"\n", received_at=NOW_S).records[0].values == {"t_c": 10.0}  # whitespace is fine


# ---------------------------------------------------------------------------------------------
# Retained telemetry and vibration


def _raw(kind: str, payload: bytes, *, retain: bool) -> RawMessage:
    return RawMessage(f"foreshock/v1/P-0001/{kind}", payload, NOW_S, retain=retain)


def test_a_retained_copy_of_telemetry_or_vibration_is_dead_lettered_naming_the_flag():
    """With the retain flag set by a firmware, the broker handed the unit's last telemetry to ingest again
    at every reconnect: accepted, it counted as the unit seen then (a silent unit's alert was cleared at
    every restart of the service) and the detectors logged that the unit's clock had gone back."""
    _in_doc("Publish `telemetry` and `vibration` **without the retain flag**",
            "the platform dead-letters such a copy as `schema` (`retained copy: the unit published this "
            "telemetry with the retain flag, ...`)")
    tel = p.telemetry_payload(1795256130250, 1, {"temperature_c": 41.7})
    vib = _vibration(_signal().astype("<f4").tobytes())
    ok, bad = Converter(device_check={"P-0001"}.__contains__).convert([
        _raw("telemetry", tel, retain=False),  # the live message, as the broker forwards it when it is sent
        _raw("telemetry", tel, retain=True),   # the broker's copy, at ingest's next subscription
        _raw("vibration", vib, retain=True),
        _raw("status", b'{"state": "offline"}', retain=True),  # retained by the protocol: accepted
    ])
    assert [(a.message.kind, a.raw.retain) for a in ok] == [("telemetry", False), ("status", True)]
    assert [(d.reason, d.device_id, d.topic) for d in bad] == [("schema", "P-0001", TEL), ("schema", "P-0001", VIB)]
    assert bad[0].detail == (
        "retained copy: the unit published this telemetry with the retain flag, so the broker hands it to "
        "Foreshock again at every reconnect; not stored again (it was handled when it was sent). Publish "
        f"telemetry without the retain flag, and clear this copy with an empty retained message to {TEL}")
    assert bad[0].detail.startswith("retained copy: the unit published this telemetry with the retain flag")
    assert bad[1].detail.startswith("retained copy: the unit published this vibration with the retain flag")


def test_a_retained_copy_of_an_unregistered_unit_is_still_ignored_and_a_bad_one_still_named():
    ok, bad = Converter(device_check={"P-0001"}.__contains__).convert([
        RawMessage("foreshock/v1/GONE-1/telemetry", p.telemetry_payload(1795256130250, 1, {"a_c": 1.0}), NOW_S,
                   retain=True),
        _raw("telemetry", b'{"ts": 1795256130250, "seq": 1}', retain=True),
    ])
    assert ok == [] and [(d.reason, d.detail) for d in bad] == [("schema", "missing field(s) values")]


def test_the_documented_way_to_clear_a_retained_copy_is_dead_lettered_as_bad_json():
    _in_doc("publish an empty retained message to the topic with the unit's own credentials (the broker's ACL lets "
            "only the unit and the platform's user write there): `mosquitto_pub -h BROKER -p PORT -u P-0001 -P 'PASSWORD' -r -n -t "
            "foreshock/v1/P-0001/telemetry`")
    _in_doc("The platform dead-letters that empty message too, as `bad_json`")
    ok, bad = Converter(device_check={"P-0001"}.__contains__).convert([_raw("telemetry", b"", retain=False)])
    assert ok == [] and [(d.reason, d.detail) for d in bad] == [("bad_json", "empty payload: expected one JSON document")]
