"""A telemetry value may not take a name the store keeps for itself (its tags, its timestamp).

Found by publishing ``{"values": {"device": 1}}`` from one unit into ``foreshock run`` on InfluxDB 1.x:
InfluxQL then read ``WHERE "device" = 'P-0001'`` as that field, and every unit's telemetry vanished from
``GET /api/v1/units/{id}/series`` and the dashboard. A value named ``time`` was refused by InfluxDB
(HTTP 400) after the platform had accepted the message.
"""

from __future__ import annotations

import time
import uuid

import pytest

from devices import protocol
from foreshock.tsdb.influx1 import Influx1Store
from ingest.pipeline import Converter
from ingest.types import RawMessage

pytestmark = pytest.mark.integration


def raw(device: str, payload: bytes, now: float) -> RawMessage:
    return RawMessage(f"foreshock/v1/{device}/telemetry", payload, now, mid=1, qos=1)


@pytest.mark.parametrize("name", protocol.RESERVED_VALUE_NAMES)
def test_a_reserved_value_name_is_dead_lettered_and_the_fleet_stays_queryable(influxd, name):
    now = time.time()
    ts = int(now * 1000) - 5000
    store = Influx1Store(influxd.url, f"r_{uuid.uuid4().hex[:8]}")
    try:
        ok, bad = Converter(device_check=None).convert([
            raw("P-0001", protocol.telemetry_payload(ts, 1, {"temperature_c": 41.0}), now),
            raw("P-0002", protocol.telemetry_payload(ts + 1, 7, {"temperature_c": 39.0, name: 1.0}), now),
        ])
        assert [(d.reason, d.device_id) for d in bad] == [("schema", "P-0002")]
        assert f"values: name {name!r} is reserved" in bad[0].detail
        store.write([p for item in ok for p in item.points])
        rows = store.query("telemetry", "P-0001", ts - 60_000, ts + 60_000, None)
        assert [r.fields for r in rows] == [{"temperature_c": 41}]
    finally:
        store.close()


def test_a_field_named_like_a_tag_already_in_the_store_does_not_hide_the_fleet(influxd):
    """Data written before the names were reserved (or by another tool) still reads: the query
    filters on the tags, not on a field of the same name."""
    from foreshock.tsdb.base import Point

    ts = int(time.time() * 1000) - 5000
    store = Influx1Store(influxd.url, f"r_{uuid.uuid4().hex[:8]}")
    try:
        store.write([Point("telemetry", {"device": "P-0001"}, {"temperature_c": 41.0}, ts),
                     Point("telemetry", {"device": "P-0002"}, {"temperature_c": 39.0, "device": 1.0}, ts + 1),
                     Point("vibration", {"device": "P-0001", "axis": "x"}, {"rms_g": 0.5, "axis": 2.0}, ts)])
        rows = store.query("telemetry", "P-0001", ts - 60_000, ts + 60_000, None)
        assert [r.fields for r in rows] == [{"temperature_c": 41}]
        rows = store.query("vibration", "P-0001", ts - 60_000, ts + 60_000, None, tags={"axis": "x"})
        assert len(rows) == 1 and rows[0].fields["rms_g"] == 0.5
    finally:
        store.close()
