"""Dead-letter details for mistakes firmware makes in the field, as a firmware engineer reads them.

Found by a unit written from docs/device-protocol.md alone (paho-mqtt, a real Mosquitto, ``foreshock run``):
the details below named Python's JSON decoder, not the mistake, and the log line of ``foreshock run``
(``rejected 1 message(s) ...; latest from P-0001 ...``) shows only the detail, not the payload.

- a payload cut short (a buffer too small: ``snprintf`` truncates, the firmware publishes what it has)
  read ``not valid JSON: Expecting ',' delimiter: line 1 column 57 (char 56)``;
- a plain-text status and last will (``online`` / ``offline``, as many MQTT firmwares publish them)
  read ``not valid JSON: Expecting value: line 1 column 1 (char 0)``, and the unit's presence never moved;
- two records written into one message read ``not valid JSON: Extra data: line 1 column 60 (char 59)``;
- ``"axis": "X"``, ``"unit": "m/s2"``, ``"state": "Online"`` were refused without saying what was sent.
"""

from __future__ import annotations

import json

import pytest

from devices.protocol import ProtocolError, Reason, parse_message

NOW_S = 1_795_256_130.0
TS = 1_795_256_130_000
TEL = "foreshock/v1/P-0001/telemetry"
VIB = "foreshock/v1/P-0001/vibration"
STA = "foreshock/v1/P-0001/status"


def rejected(topic: str, payload: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse_message(topic, payload, received_at=NOW_S)
    return info.value


def record(seq: int = 1, **values: float) -> bytes:
    return json.dumps({"ts": TS, "seq": seq, "values": values or {"temperature_c": 41.7}},
                      separators=(",", ":")).encode()


@pytest.mark.parametrize("cut", [1, 3, 12, 30])
def test_a_payload_cut_short_says_so(cut):
    whole = record()
    err = rejected(TEL, whole[:-cut])
    assert err.reason is Reason.BAD_JSON
    assert err.detail.startswith(f"the payload ends before its JSON document does ({len(whole) - cut} bytes): "
                                 "cut short?"), err.detail
    assert "buffer" in err.detail


def test_a_snapshot_cut_short_inside_its_samples_says_so():
    payload = (b'{"ts":1795256130000,"seq":2,"axis":"x","unit":"g","fs":25600,"samples_b64":"'
               + b"AAAA" * 500)  # the buffer ended inside the base64 string
    err = rejected(VIB, payload)
    assert err.reason is Reason.BAD_JSON and "cut short?" in err.detail, err.detail


@pytest.mark.parametrize("text", [b"offline", b"online", b"Offline", b"ONLINE\n"])
def test_a_plain_text_status_names_the_json_it_should_be(text):
    err = rejected(STA, text)
    word = text.strip().decode().lower()
    assert err.reason is Reason.BAD_JSON
    assert err.detail == (f"the payload is the text {text.strip().decode()!r}, not JSON: a status is a JSON object, "
                          f'{{"state":"{word}"}} (the last will too)'), err.detail


def test_a_json_string_as_status_names_the_object_it_should_be():
    err = rejected(STA, b'"offline"')
    assert err.reason is Reason.SCHEMA
    assert err.detail == 'expected a JSON object, got str: a status is {"state":"offline"}, not "offline"'


def test_other_text_that_is_no_json_is_shown():
    err = rejected(TEL, b"temperature_c=41.7")
    assert err.reason is Reason.BAD_JSON
    assert err.detail.startswith("not valid JSON: Expecting value at byte 0: the payload begins 'temperature_c=41.7'")


def test_two_documents_in_one_message_say_how_to_send_several_records():
    first = record(1)
    err = rejected(TEL, first + record(2))
    assert err.reason is Reason.BAD_JSON
    assert err.detail == (f"not valid JSON: a second JSON document (or other text) follows the first at byte "
                          f"{len(first)}: send several records as one JSON array (a batch), a snapshot as a "
                          "message of its own"), err.detail


@pytest.mark.parametrize(("topic", "doc", "detail"), [
    (VIB, {"axis": "X"}, "axis: 'X' is not one of x, y, z, h, v (lower case)"),
    (VIB, {"axis": "radial"}, "axis: 'radial' is not one of x, y, z, h, v"),
    (VIB, {"unit": "m/s2"}, "unit: 'm/s2' is not supported: protocol v1 takes acceleration in g only ('g'; "
                            "1 g = 9.80665 m/s²: divide m/s² by 9.80665)"),
    (VIB, {"unit": "G"}, "unit: 'G' is not supported: protocol v1 takes acceleration in g only ('g'; "
                         "1 g = 9.80665 m/s²: divide m/s² by 9.80665)"),
    (STA, {"state": "Online"}, "state: 'Online' is not 'online' or 'offline' (lower case)"),
    (STA, {"state": "connected"}, "state: 'connected' is not 'online' or 'offline'"),
    (STA, {"state": 1}, "state: 1 is not 'online' or 'offline'"),
])
def test_a_refused_word_is_named(topic, doc, detail):
    base = ({"ts": TS, "seq": 3, "axis": "x", "unit": "g", "fs": 25600, "samples": [0.0, 0.1, 0.2]}
            if topic == VIB else {"state": "online"})
    err = rejected(topic, json.dumps({**base, **doc}).encode())
    assert (err.reason, err.detail) == (Reason.SCHEMA, detail)


def test_a_long_refused_value_is_shortened():
    err = rejected(VIB, json.dumps({"ts": TS, "seq": 3, "axis": "x" * 500, "unit": "g", "fs": 25600,
                                    "samples": [0.0]}).encode())
    assert err.reason is Reason.SCHEMA and len(err.detail) < 120, err.detail
