"""The deadman and an ingest backlog: units whose messages still wait in ingest's queue are not silent.

A soak of 300 units found it: with ingest more than three reporting intervals behind (the machine
busy, the store slow), one tick raised "unit silent" for the whole fleet, 300 alerts while every unit
was sending, because last-seen times come from the messages ingest has handed on."""

from __future__ import annotations

import uuid

from alerts.service import AlertService
from devices.registry import Registry


def _kinds(changes) -> list[str]:
    return [c.kind for c in changes]


def test_a_unit_whose_messages_wait_in_ingests_queue_is_not_silent(factory):
    tag = uuid.uuid4().hex[:8]  # the devices tables are shared with other tests on PostgreSQL
    reg = Registry(factory, silent_after_intervals=3.0)
    reg.create_model(f"M-{tag}", rated_rpm=1800, reporting_interval_s=60)
    unit = f"U-{tag}"
    reg.create_unit(unit, model=f"M-{tag}")
    t0 = 1_795_000_000.0
    reg.record_status(unit, "online", int(t0 * 1000))
    reg.mark_seen(unit, int(t0 * 1000))
    reg.flush_seen()
    svc = AlertService(factory, clock=lambda: t0 + 600, registry=reg)
    # ten minutes on, but ingest still holds messages received 30 s after the last one it handed on
    assert [c for c in svc.tick(t0 + 600, heard_until=t0 + 30) if c.device_id == unit] == []
    assert svc.list_alerts(device_id=unit) == []
    # once ingest has caught up to a time past three intervals of silence, the unit is silent
    assert _kinds(c for c in svc.tick(t0 + 600, heard_until=t0 + 200) if c.device_id == unit) == ["unit_silent"]


def test_ingest_says_up_to_when_it_has_handed_on_what_it_received(tmp_path):
    from foreshock.settings import Settings
    from ingest.service import IngestService
    from ingest.types import RawMessage

    settings = Settings(data_dir=str(tmp_path))
    service = IngestService(settings, store=None, dead_letters=None, device_check=None)  # type: ignore[arg-type]
    assert service.heard_until() is None  # nothing waits
    for t in (100.0, 101.0):
        service._queue.put(RawMessage("foreshock/v1/U-1/telemetry", b"{}", t, 1, 1, False, 1), 0.1)
    assert service.heard_until() == 100.0
    batch = service._queue.take(10, 0.1)
    service._in_hand_since = batch[0].received_at  # as the worker does while it writes a batch
    assert service.heard_until() == 100.0
    service._queue.put(RawMessage("foreshock/v1/U-1/telemetry", b"{}", 102.0, 2, 1, False, 1), 0.1)
    service._in_hand_since = None  # the batch handed on
    assert service.heard_until() == 102.0
