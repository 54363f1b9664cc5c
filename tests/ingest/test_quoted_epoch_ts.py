"""Epoch milliseconds sent as a JSON string are refused naming the mistake.

A firmware formatting its payload with ``"ts": "%llu"`` sends ``"ts": "1795256130250"``. The detail said
only that this ``is not an RFC 3339 timestamp (like '2023-11-14T22:13:20.250Z' ...)``, which sent the team
to format a date; what is wrong is the quotes (docs/device-protocol.md: epoch milliseconds "as a JSON
number").
"""

from __future__ import annotations

import pytest

from devices.protocol import ProtocolError, Reason, parse_message

NOW_S = 1_795_256_131.0
TEL = "foreshock/v1/P-0001/telemetry"
STA = "foreshock/v1/P-0001/status"


@pytest.mark.parametrize("quoted", ["1795256130250", "1795256130250.5", " 1795256130250", "1795256130"])
def test_a_quoted_epoch_timestamp_is_refused_saying_to_drop_the_quotes(quoted):
    with pytest.raises(ProtocolError) as info:
        parse_message(TEL, b'{"ts": "%s", "seq": 1, "values": {"a_c": 1}}' % quoted.encode(), received_at=NOW_S)
    assert info.value.reason is Reason.SCHEMA
    assert info.value.detail.startswith(f"ts: {quoted!r} is a number in a string: send epoch milliseconds as a "
                                        "JSON number, without quotes, or an RFC 3339 string")


def test_the_hint_names_the_record_of_a_batch_and_applies_to_status():
    with pytest.raises(ProtocolError, match=r"^schema: \[1\]\.ts: '1795256130250' is a number in a string"):
        parse_message(TEL, b'[{"ts": 1795256130250, "seq": 1, "values": {"a_c": 1}},'
                           b' {"ts": "1795256130250", "seq": 2, "values": {"a_c": 1}}]', received_at=NOW_S)
    with pytest.raises(ProtocolError, match=r"^schema: ts: '1795256130250' is a number in a string"):
        parse_message(STA, b'{"state": "online", "ts": "1795256130250"}', received_at=NOW_S)


def test_other_strings_still_get_the_rfc_3339_detail():
    with pytest.raises(ProtocolError, match=r"is not an RFC 3339 timestamp \(like"):
        parse_message(TEL, b'{"ts": "2026-11-21", "seq": 1, "values": {"a_c": 1}}', received_at=NOW_S)
    assert parse_message(TEL, b'{"ts": 1795256130250, "seq": 1, "values": {"a_c": 1}}',
                         received_at=NOW_S).records[0].ts_ms == 1795256130250


def test_the_document_shows_the_detail():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md").read_text(encoding="utf-8")
    flat = " ".join(doc.split())
    shown = "ts: '1795256130250' is a number in a string: "
    assert f"`\"1795256130250\"`, it is refused as `schema`: `{shown}...`" in flat
    with pytest.raises(ProtocolError) as info:
        parse_message(TEL, b'{"ts": "1795256130250", "seq": 1, "values": {"a_c": 1}}', received_at=NOW_S)
    assert info.value.detail.startswith(shown)
