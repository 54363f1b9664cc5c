"""Numbers too large for a float are schema errors with a reason, never an exception (found by fuzzing)."""

from __future__ import annotations

import pytest

from devices.protocol import ProtocolError, Reason, parse_message

HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    "payload, where",
    [
        ('{"ts": 1795000000000, "seq": 1, "values": {"a": %s}}' % HUGE, "values.a"),
        ('{"ts": %s, "seq": 1, "values": {"a": 1}}' % HUGE, "ts"),
        ('{"ts": -%s, "seq": 1, "values": {"a": 1}}' % HUGE, "ts"),
        ('{"ts": 1795000000000, "seq": 1, "axis": "x", "unit": "g", "fs": %s, "samples": [1]}' % HUGE, "fs"),
        ('{"ts": 1795000000000, "seq": 1, "axis": "x", "unit": "g", "fs": 1000, "samples": [%s]}' % HUGE, "samples"),
    ],
)
def test_huge_numbers_are_schema_errors(payload, where):
    kind = "vibration" if "axis" in payload else "telemetry"
    with pytest.raises(ProtocolError) as err:
        parse_message(f"foreshock/v1/U-1/{kind}", payload.encode(), received_at=1_795_000_000.0)
    assert err.value.reason in (Reason.SCHEMA, Reason.NON_FINITE, Reason.FUTURE_TIMESTAMP)
    assert where.split(".")[0] in str(err.value)
