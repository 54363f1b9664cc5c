"""Validation and conversion of a batch (no servers)."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.types import BearingGeometry, MachineInfo
from devices import protocol
from ingest.pipeline import Converter
from ingest.types import RawMessage

NOW = 1_700_000_000.0
TS = 1_700_000_000_000


def raw(device: str, kind: str, payload: bytes) -> RawMessage:
    return RawMessage(f"foreshock/v1/{device}/{kind}", payload, NOW, mid=1, qos=1)


def test_telemetry_batch_becomes_one_point_per_record():
    conv = Converter(device_check=None)
    ok, bad = conv.convert([raw("P-1", "telemetry", protocol.telemetry_batch_payload(
        [(TS, 1, {"temperature_c": 40.0}), (TS + 1000, 2, {"temperature_c": 41.0, "load": 0.5})]))])
    assert bad == []
    points = ok[0].points
    assert [(p.measurement, p.tags, p.fields, p.ts_ms) for p in points] == [
        ("telemetry", {"device": "P-1"}, {"temperature_c": 40.0}, TS),
        ("telemetry", {"device": "P-1"}, {"temperature_c": 41.0, "load": 0.5}, TS + 1000),
    ]
    assert ok[0].message.kind == "telemetry" and ok[0].message.features is None


def test_vibration_is_reduced_to_features_with_the_machine():
    fs, rpm = 25600.0, 1800.0
    t = np.arange(8192) / fs
    x = 0.5 * np.sin(2 * np.pi * rpm / 60 * t) + np.random.default_rng(0).normal(0, 0.05, t.size)
    asked = []
    machine = MachineInfo(rated_rpm=rpm, bearing=BearingGeometry(9, 0.3126, 1.537))
    conv = Converter(device_check=None, machine_info=lambda d: asked.append(d) or machine)
    ok, bad = conv.convert([raw("P-2", "vibration", protocol.vibration_payload(TS, 1, x, fs, axis="h", rpm=rpm)),
                            raw("P-2", "vibration", protocol.vibration_payload(TS + 1, 2, x, fs, axis="v"))])
    assert bad == [] and asked == ["P-2"]  # asked once per device per batch
    p = ok[0].points[0]
    assert p.measurement == "vibration" and p.tags == {"device": "P-2", "axis": "h"}
    assert p.fields["n"] == 8192 and p.fields["fs"] == fs and p.fields["rpm"] == rpm
    assert "rpm" not in ok[1].points[0].fields
    assert p.fields["rms_g"] == pytest.approx(np.sqrt(np.mean(x**2)), rel=1e-4)
    assert "velocity_rms_mm_s" in p.fields  # detectors.features.snapshot_features was used
    assert ok[0].message.features == {k: v for k, v in p.fields.items() if k not in ("fs", "n", "rpm")}


def test_short_snapshot_falls_back_to_time_features():
    conv = Converter(device_check=None)
    ok, bad = conv.convert([raw("P-2", "vibration", protocol.vibration_payload(TS, 1, np.ones(8), 1000.0))])
    assert bad == [] and ok[0].points[0].fields["rms_g"] == pytest.approx(1.0)


def test_status_is_handed_on_not_stored():
    conv = Converter(device_check=None)
    ok, _ = conv.convert([raw("P-1", "status", protocol.status_payload("offline", TS))])
    assert ok[0].points == [] and ok[0].message.parsed.status.state == "offline"


def test_unknown_devices_rejected_unless_auto_registered():
    payload = protocol.telemetry_payload(TS, 1, {"a": 1.0})
    checks = []

    def known(device: str) -> bool:
        checks.append(device)
        return device == "P-1"

    ok, bad = Converter(device_check=known).convert([raw("P-1", "telemetry", payload), raw("P-7", "telemetry", payload),
                                                      raw("P-7", "telemetry", payload)])
    assert [a.message.device_id for a in ok] == ["P-1"]
    assert [(d.reason, d.device_id) for d in bad] == [("unknown_device", "P-7")] * 2
    assert sorted(checks) == ["P-1", "P-7"]  # once per device per batch

    registered = []
    ok, bad = Converter(device_check=known, auto_register=registered.append).convert([raw("P-7", "telemetry", payload)])
    assert bad == [] and registered == ["P-7"]
    ok, bad = Converter(device_check=known, auto_register=True).convert([raw("P-8", "telemetry", payload)])
    assert bad == [] and len(ok) == 1


def test_one_bad_message_does_not_affect_its_neighbours():
    good = protocol.telemetry_payload(TS, 1, {"a": 1.0})
    conv = Converter(device_check=None)
    ok, bad = conv.convert([raw("P-1", "telemetry", good), raw("P-1", "telemetry", b"\x00garbage"),
                            RawMessage("nope", good, NOW), raw("P-1", "telemetry", good)])
    assert len(ok) == 2 and [d.reason for d in bad] == ["bad_json", "bad_topic"]
    assert bad[0].payload == b"\x00garbage" and bad[0].topic == "foreshock/v1/P-1/telemetry"


def test_device_check_failure_propagates_so_the_batch_is_retried():
    def broken(device: str) -> bool:
        raise ConnectionError("registry down")

    with pytest.raises(ConnectionError):
        Converter(device_check=broken).convert([raw("P-1", "telemetry", protocol.telemetry_payload(TS, 1, {"a": 1.0}))])


def test_retained_copies_of_unregistered_devices_are_ignored_live_messages_dead_lettered():
    """The broker hands every new subscription the retained status of each unit, also of units since
    decommissioned: each restart of the service added one `unknown_device` dead letter per such unit.
    The retained copy is now left out; a live message of an unknown device is still dead-lettered."""
    from ingest.pipeline import Converter
    from ingest.types import RawMessage

    conv = Converter(device_check=lambda d: d == "P-1")
    status = b'{"state": "offline"}'
    ok, bad = conv.convert([
        RawMessage("foreshock/v1/GONE-1/status", status, 1.7e9, retain=True),
        RawMessage("foreshock/v1/GONE-2/status", status, 1.7e9, retain=False),
        RawMessage("foreshock/v1/P-1/status", status, 1.7e9, retain=True),
        RawMessage("foreshock/v1/GONE-1/status", b"not json", 1.7e9, retain=True),
    ])
    assert [a.message.device_id for a in ok] == ["P-1"]
    assert [(d.device_id, d.reason) for d in bad] == [("GONE-1", "bad_json"), ("GONE-2", "unknown_device")]
